// Finding where mail for a domain goes (RFC 5321 5.1): MX records by preference, else the
// domain itself (its A/AAAA records). The DNS answer is parsed without I/O; the query goes
// through the relay's resolver (libunbound, on the event loop).
#pragma once

#include <asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

class dns_source;

// One mail exchanger.
struct mx_record {
  int preference = 0;
  std::string host;  // without the trailing dot
};

// The outcome of an MX lookup.
struct mx_answer {
  // In this order in metrics::dns_outcome too.
  enum class kind {
    records,     // `hosts` holds the exchangers, lowest preference first (ties in answer order)
    no_records,  // the domain exists but has no MX: use the domain itself (implicit MX)
    null_mx,     // RFC 7505: "MX 0 ." — the domain accepts no mail: a permanent failure
    no_domain,   // NXDOMAIN: a permanent failure
    temporary,   // SERVFAIL, timeout, no resolver configured: try again later
  };
  kind outcome = kind::temporary;
  std::vector<mx_record> hosts;
  std::string detail;  // why, for logs and bounces
};

// Parses a DNS response to an MX query (wire format, RFC 1035 4.1).
mx_answer parse_mx_response(std::string_view response);

// Asks `dns` for the MX records of `domain`; a resolver that fails or times out gives a
// temporary answer, never a permanent one.
asio::awaitable<mx_answer> lookup_mx(dns_source& dns, const std::string& domain);

}  // namespace missive
