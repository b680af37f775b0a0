// DNS for the relay through libunbound: asynchronous, driven from the event loop through the
// library's file descriptor, with its cache, and DNSSEC-capable. Answers come back as whole
// wire-format responses, for the codecs (mx_lookup's parser and those to come) to read
// without I/O. One resolver per event loop; used from that loop's thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server_config.hpp"

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
  // The data of each record of the type asked for (after any CNAME), as libunbound parsed
  // them: 4 octets for an A record, 16 for an AAAA.
  std::vector<std::string> records;
  bool secure = false;  // validated by DNSSEC (only with a trust anchor configured)
  std::string detail;   // why, for logs and bounces, when not an answer
};

// DNS record types the relay asks for (RFC 1035 3.2.2, RFC 3596).
namespace dns_type {
inline constexpr std::uint16_t a = 1;
inline constexpr std::uint16_t ptr = 12;
inline constexpr std::uint16_t mx = 15;
inline constexpr std::uint16_t txt = 16;
inline constexpr std::uint16_t aaaa = 28;
}  // namespace dns_type

class dns_resolver {
 public:
  // Asks `settings.resolver` when set, else the servers of /etc/resolv.conf (and /etc/hosts);
  // throws std::runtime_error when libunbound cannot be set up so.
  dns_resolver(asio::any_io_executor executor, const dns_settings& settings);
  dns_resolver(const dns_resolver&) = delete;
  dns_resolver& operator=(const dns_resolver&) = delete;
  ~dns_resolver();

  // Asks for the records of `type` (class IN) at `name`; a query not answered within the
  // configured timeout is temporary.
  asio::awaitable<dns_answer> query(std::string name, std::uint16_t type);

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace missive
