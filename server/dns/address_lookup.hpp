// The addresses of a host (A and AAAA records, RFC 1035 3.4.1, RFC 3596), through the relay's
// resolver: what a mail exchanger's name is turned into before the courier connects.
#pragma once

#include <asio/awaitable.hpp>

#include <string>
#include <vector>

namespace missive {

class dns_source;

struct address_answer {
  enum class kind {
    addresses,  // `addresses` holds IPv4 then IPv6 literals, in answer order
    none,       // the name has no address (NXDOMAIN, or no A and no AAAA)
    temporary,  // a query failed or timed out, and the other found nothing
  };
  kind outcome = kind::temporary;
  std::vector<std::string> addresses;
  std::string detail;  // why, when there are none
};

// Asks for the A and AAAA records of `host`.
asio::awaitable<address_answer> lookup_addresses(dns_source& dns, const std::string& host);

// An address literal for the 4 (IPv4) or 16 (IPv6) octets of an A or AAAA record; empty for
// any other length.
std::string address_literal(const std::string& octets);

}  // namespace missive
