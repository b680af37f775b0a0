// A and AAAA lookups: see address_lookup.hpp.
#include "address_lookup.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns_source.hpp"

namespace missive {

std::string address_literal(const std::string& octets) {
  char text[INET6_ADDRSTRLEN] = {};
  int family = octets.size() == 4 ? AF_INET : octets.size() == 16 ? AF_INET6 : 0;
  if (family == 0 || inet_ntop(family, octets.data(), text, sizeof text) == nullptr) return {};
  return text;
}

asio::awaitable<address_answer> lookup_addresses(dns_source& dns, const std::string& host) {
  address_answer answer;
  bool temporary = false;
  for (std::uint16_t type : {dns_type::a, dns_type::aaaa}) {
    dns_answer found = co_await dns.query(host, type);
    if (found.outcome == dns_answer::kind::temporary) {
      temporary = true;
      answer.detail = found.detail;
      continue;
    }
    for (const auto& record : found.records) {
      std::string literal = address_literal(record);
      if (!literal.empty()) answer.addresses.push_back(std::move(literal));
    }
  }
  if (!answer.addresses.empty()) {
    answer.outcome = address_answer::kind::addresses;
    answer.detail.clear();
  } else if (temporary) {
    answer.outcome = address_answer::kind::temporary;
  } else {
    answer.outcome = address_answer::kind::none;
    answer.detail = "no address (A or AAAA) for " + host;
  }
  co_return answer;
}

}  // namespace missive
