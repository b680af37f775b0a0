// Runs check_host() (server/spf) over the scenarios of the RFC 7208 test suite, against the
// suite's zone data served from a table: tests/integration/test_spf_suite.py turns each
// scenario of the YAML into lines on stdin and compares what this prints with the results
// the suite expects.
//
// Input, tab-separated, one scenario:
//   rr      NAME  TYPE  HEX-RDATA    a record (TYPE by number; CNAME too)
//   timeout NAME                     queries at NAME for types it has no records of time out
//   case    ID    HEX-IP16  MAILFROM  HELO   (MAILFROM "" for the null sender)
// Output, per case: ID TAB RESULT TAB EXPLANATION
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ascii.hpp"
#include "dns_source.hpp"
#include "spf_check.hpp"

namespace {

using namespace missive;

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

std::string canonical(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  return lowercase_ascii(name);
}

// The suite's zone data, answered as a resolver would (CNAMEs followed, at most 8 deep).
class table_dns final : public dns_source {
 public:
  std::map<std::string, std::multimap<std::uint16_t, std::string>> records;
  std::set<std::string> timeouts;

  asio::awaitable<dns_answer> query(std::string name, std::uint16_t type) override {
    co_return answer(canonical(name), type, 0);
  }

 private:
  dns_answer answer(const std::string& name, std::uint16_t type, int depth) {
    dns_answer out;
    auto node = records.find(name);
    if (node != records.end()) {
      auto [first, last] = node->second.equal_range(type);
      for (auto it = first; it != last; ++it) out.records.push_back(it->second);
      if (!out.records.empty()) {
        out.outcome = dns_answer::kind::answer;
        return out;
      }
      auto cname = node->second.find(dns_type::cname);
      if (cname != node->second.end() && type != dns_type::cname) {
        if (depth == 8) {
          out.detail = "CNAME chain too long";
          return out;  // temporary, as a resolver's SERVFAIL
        }
        return answer(canonical(decode_name(cname->second)), type, depth + 1);
      }
    }
    if (timeouts.count(name)) {
      out.detail = "timed out";
      return out;
    }
    out.outcome = node == records.end() ? dns_answer::kind::no_domain : dns_answer::kind::answer;
    return out;
  }

  static std::string decode_name(const std::string& wire) {
    std::string name;
    for (std::size_t at = 0; at < wire.size() && wire[at] != 0;) {
      std::size_t length = static_cast<unsigned char>(wire[at]);
      if (!name.empty()) name += '.';
      name += wire.substr(at + 1, length);
      at += 1 + length;
    }
    return name;
  }
};

struct test_case {
  std::string id, ip, mailfrom, helo;
};

std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, '\t')) out.push_back(field);
  if (!line.empty() && line.back() == '\t') out.emplace_back();
  return out;
}

}  // namespace

int main() {
  table_dns dns;
  std::vector<test_case> cases;
  std::string line;
  while (std::getline(std::cin, line)) {
    auto f = fields(line);
    if (f.size() == 4 && f[0] == "rr") {
      dns.records[canonical(f[1])].emplace(static_cast<std::uint16_t>(std::stoi(f[2])), from_hex(f[3]));
    } else if (f.size() == 2 && f[0] == "timeout") {
      dns.timeouts.insert(canonical(f[1]));
    } else if (f.size() == 5 && f[0] == "case") {
      cases.push_back({f[1], from_hex(f[2]), f[3], f[4]});
    } else {
      std::cerr << "spf_suite_runner: cannot read: " << line << "\n";
      return 2;
    }
  }
  asio::io_context io;
  for (const auto& c : cases) {
    std::array<std::uint8_t, 16> client{};
    std::copy(c.ip.begin(), c.ip.end(), client.begin());
    spf_identity identity = mail_from_identity(client, c.mailfrom, c.helo, "receiver.example", 1700000000);
    auto done = asio::co_spawn(io, check_spf(dns, identity), asio::use_future);
    io.restart();
    io.run();
    spf_result result = done.get();
    std::cout << c.id << '\t' << result_name(result.outcome) << '\t' << result.explanation << '\n';
  }
  return 0;
}
