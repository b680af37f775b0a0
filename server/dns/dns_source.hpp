// What a DNS query comes to, and the interface every lookup is written against: the relay's
// resolver (dns_resolver) in production, a table of records in tests (the RFC 7208 suite).
#pragma once

#include <asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace missive {

// What a query came to.
struct dns_answer {
  enum class kind {
    answer,     // NOERROR: `packet` holds the response (its answer section may be empty)
    no_domain,  // NXDOMAIN: `packet` holds the response
    temporary,  // SERVFAIL, a timeout, a DNSSEC failure, no resolver: ask again later
  };
  kind outcome = kind::temporary;
  std::string packet;   // the response in wire format (RFC 1035 4.1), when there is one
  // The data of each record of the type asked for (after any CNAME), uncompressed, as
  // libunbound parsed them: 4 octets for an A record, 16 for an AAAA.
  std::vector<std::string> records;
  bool secure = false;  // validated by DNSSEC (only with a trust anchor configured)
  std::string detail;   // why, for logs and bounces, when not an answer
};

// DNS record types the relay asks for (RFC 1035 3.2.2, RFC 3596).
namespace dns_type {
inline constexpr std::uint16_t a = 1;
inline constexpr std::uint16_t cname = 5;
inline constexpr std::uint16_t ptr = 12;
inline constexpr std::uint16_t mx = 15;
inline constexpr std::uint16_t txt = 16;
inline constexpr std::uint16_t aaaa = 28;
}  // namespace dns_type

class dns_source {
 public:
  virtual ~dns_source() = default;
  // Asks for the records of `type` (class IN) at `name`.
  virtual asio::awaitable<dns_answer> query(std::string name, std::uint16_t type) = 0;
};

}  // namespace missive
