// The MX query through the relay's resolver: see mx_lookup.hpp.
#include "dns_source.hpp"
#include "mx_lookup.hpp"

namespace missive {

asio::awaitable<mx_answer> lookup_mx(dns_source& dns, const std::string& domain) {
  dns_answer answer = co_await dns.query(domain, dns_type::mx);
  if (answer.outcome == dns_answer::kind::temporary) {
    mx_answer failed;
    failed.outcome = mx_answer::kind::temporary;
    failed.detail = answer.detail;
    co_return failed;
  }
  co_return parse_mx_response(answer.packet);
}

}  // namespace missive
