// Where mail for a domain goes next: the configured routes first (exact domain, then the
// default route "*", a smarthost), else DNS MX records (RFC 5321 5.1).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address_lookup.hpp"
#include "mx_lookup.hpp"
#include "server_config.hpp"

namespace missive {

// A host to try, with its port, and how to talk to it.
struct next_hop {
  std::string host;
  std::uint16_t port = 25;
  std::string tls = "opportunistic";  // STARTTLS: "opportunistic", "required" or "none"
  std::string user;                   // AUTH to a smarthost, when set
  std::string password;
};

// The plan for a domain: hosts to try in order, or why there are none.
struct route_plan {
  enum class kind { hops, retry, permanent };
  kind outcome = kind::retry;
  std::vector<next_hop> hops;
  std::string destination;  // what deliveries are grouped and capped by
  std::string detail;       // why there are no hops
};

// The configured routes, looked up by recipient domain.
class router {
 public:
  explicit router(std::vector<route> routes) : routes_(std::move(routes)) {}

  // The route for `domain` (lowercase): an exact match, else "*", else nothing.
  std::optional<route_plan> configured(std::string_view domain) const;

 private:
  std::vector<route> routes_;
};

// Turns an MX answer for `domain` into a plan (RFC 5321 5.1): the exchangers by preference
// (on `port`), the domain itself when it has no MX, a permanent failure for a null MX or
// NXDOMAIN.
route_plan plan_from_mx(const std::string& domain, const mx_answer& answer,
                        std::uint16_t port = 25);

// The plan of `domain` with each hop's host name replaced by its `addresses` (a hop for each,
// in order; a host with none is skipped). When no hop is left: for the domain itself (no MX,
// `implicit_mx`) with no address at all, a permanent failure (it takes no mail); else a
// retry, since exchangers that do not resolve now may later.
route_plan plan_with_addresses(const std::string& domain, route_plan plan,
                               const std::map<std::string, address_answer>& addresses,
                               bool implicit_mx);

}  // namespace missive
