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

route_plan plan_from_mx(const std::string& domain, const mx_answer& answer) {
  route_plan plan;
  plan.destination = domain;
  switch (answer.outcome) {
    case mx_answer::kind::records:
      plan.outcome = route_plan::kind::hops;
      for (const auto& mx : answer.hosts) plan.hops.push_back({mx.host, 25, "opportunistic", "", ""});
      break;
    case mx_answer::kind::no_records:
      // RFC 5321 5.1: no MX means the domain itself is the implicit MX.
      plan.outcome = route_plan::kind::hops;
      plan.hops.push_back({domain, 25, "opportunistic", "", ""});
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

}  // namespace missive
