// Routing: see router.hpp.
#include "router.hpp"

#include <fmt/format.h>

namespace missive {

std::optional<route_plan> router::configured(std::string_view domain) const {
  const route* fallback = nullptr;
  for (const auto& r : routes_) {
    if (r.domain == domain) {
      fallback = &r;
      break;
    }
    if (r.domain == "*" && !fallback) fallback = &r;
  }
  if (!fallback) return std::nullopt;
  route_plan plan;
  plan.outcome = route_plan::kind::hops;
  plan.hops.push_back({fallback->host.host, fallback->host.port, fallback->tls, fallback->user,
                       fallback->password});
  plan.destination = fallback->host.str();
  return plan;
}

route_plan plan_from_mx(const std::string& domain, const mx_answer& answer, std::uint16_t port) {
  route_plan plan;
  plan.destination = domain;
  switch (answer.outcome) {
    case mx_answer::kind::records:
      plan.outcome = route_plan::kind::hops;
      for (const auto& mx : answer.hosts) plan.hops.push_back({mx.host, port, "opportunistic", "", ""});
      break;
    case mx_answer::kind::no_records:
      // RFC 5321 5.1: no MX means the domain itself is the implicit MX.
      plan.outcome = route_plan::kind::hops;
      plan.hops.push_back({domain, port, "opportunistic", "", ""});
      break;
    case mx_answer::kind::null_mx:
      plan.outcome = route_plan::kind::permanent;
      plan.detail = fmt::format("556 5.1.10 {} accepts no mail (null MX, RFC 7505)", domain);
      break;
    case mx_answer::kind::no_domain:
      plan.outcome = route_plan::kind::permanent;
      plan.detail = fmt::format("550 5.1.2 domain {} does not exist", domain);
      break;
    case mx_answer::kind::temporary:
      plan.outcome = route_plan::kind::retry;
      plan.detail = fmt::format("451 4.4.3 no route to {}: {}", domain,
                                answer.detail.empty() ? "DNS lookup failed" : answer.detail);
      break;
  }
  return plan;
}

route_plan plan_with_addresses(const std::string& domain, route_plan plan,
                               const std::map<std::string, address_answer>& addresses,
                               bool implicit_mx) {
  std::vector<next_hop> hops;
  bool temporary = false;
  std::string why;
  for (const auto& hop : plan.hops) {
    auto found = addresses.find(hop.host);
    if (found == addresses.end()) continue;
    const address_answer& answer = found->second;
    if (answer.outcome == address_answer::kind::temporary) temporary = true;
    if (answer.outcome != address_answer::kind::addresses) {
      why = answer.detail;
      continue;
    }
    for (const auto& address : answer.addresses) {
      next_hop resolved = hop;
      resolved.host = address;
      hops.push_back(std::move(resolved));
    }
  }
  plan.hops = std::move(hops);
  if (!plan.hops.empty()) return plan;
  if (implicit_mx && !temporary) {
    plan.outcome = route_plan::kind::permanent;
    plan.detail = fmt::format("550 5.1.2 domain {} has no MX and no address: {}", domain, why);
  } else {
    plan.outcome = route_plan::kind::retry;
    plan.detail = fmt::format("451 4.4.3 no address for the mail exchangers of {}: {}", domain, why);
  }
  return plan;
}

}  // namespace missive
