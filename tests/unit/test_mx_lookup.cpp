// Unit tests for parsing DNS answers to MX queries (RFC 1035 4.1, RFC 7505), on packets
// built here byte by byte.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "mx_lookup.hpp"

namespace {

using kind = missive::mx_answer::kind;

// A 16-bit field in network order.
std::string u16(unsigned value) {
  return {static_cast<char>(value >> 8 & 0xFF), static_cast<char>(value & 0xFF)};
}

// The labels of `dotted` without the final root label, so a pointer can follow them.
std::string labels(std::string_view dotted) {
  std::string out;
  while (!dotted.empty()) {
    auto dot = dotted.find('.');
    auto label = dotted.substr(0, dot);
    out += static_cast<char>(label.size());
    out += label;
    dotted.remove_prefix(dot == std::string_view::npos ? dotted.size() : dot + 1);
  }
  return out;
}

// An uncompressed name ("" is the root).
std::string name(std::string_view dotted) { return labels(dotted) + '\0'; }

// A compression pointer to `offset` (RFC 1035 4.1.4).
std::string pointer(unsigned offset) { return u16(0xC000 | offset); }

// The header of a response (QR, RD, RA set) with `rcode` and the section counts.
std::string header(unsigned rcode, unsigned questions, unsigned answers) {
  return u16(0x1234) + u16(0x8180 | rcode) + u16(questions) + u16(answers) + u16(0) + u16(0);
}

// A question for the MX records of `owner` (an encoded name).
std::string question(const std::string& owner) { return owner + u16(15) + u16(1); }

// A resource record of `type` with `data`.
std::string record(const std::string& owner, unsigned type, const std::string& data) {
  return owner + u16(type) + u16(1) + u16(0) + u16(3600) + u16(data.size()) + data;
}

// An MX record: `exchange` is an encoded name, possibly ending in a pointer.
std::string mx(const std::string& owner, unsigned preference, const std::string& exchange) {
  return record(owner, 15, u16(preference) + exchange);
}

// The question name "example.test" sits at offset 12, right after the header.
const std::string domain_pointer = pointer(12);

// A NOERROR response to "example.test MX" with these answer records.
std::string response(const std::vector<std::string>& answers) {
  std::string packet = header(0, 1, answers.size()) + question(name("example.test"));
  for (const auto& answer : answers) packet += answer;
  return packet;
}

// Two MX records whose owner and exchange names are compressed against the question.
std::string two_mx_response() {
  return response({mx(domain_pointer, 10, labels("mx1") + domain_pointer),
                   mx(domain_pointer, 20, labels("mx2") + domain_pointer)});
}

std::vector<std::string> hosts_of(const missive::mx_answer& answer) {
  std::vector<std::string> hosts;
  for (const auto& h : answer.hosts) hosts.push_back(std::to_string(h.preference) + " " + h.host);
  return hosts;
}

}  // namespace

TEST_CASE("parse_mx_response: two MX records with name compression") {
  auto answer = missive::parse_mx_response(two_mx_response());
  CHECK(answer.outcome == kind::records);
  CHECK(hosts_of(answer) == std::vector<std::string>{"10 mx1.example.test", "20 mx2.example.test"});
}

TEST_CASE("parse_mx_response: sorted by preference, ties in answer order") {
  auto answer = missive::parse_mx_response(response({
      mx(domain_pointer, 30, name("c.example.net")),
      mx(domain_pointer, 10, name("a1.example.net")),
      mx(domain_pointer, 20, labels("b") + domain_pointer),
      mx(domain_pointer, 10, name("a2.example.net")),
      mx(domain_pointer, 10, name("a0.example.net")),
  }));
  CHECK(answer.outcome == kind::records);
  CHECK(hosts_of(answer) == std::vector<std::string>{"10 a1.example.net", "10 a2.example.net",
                                                     "10 a0.example.net", "20 b.example.test",
                                                     "30 c.example.net"});
}

TEST_CASE("parse_mx_response: a pointer to a name that itself ends in a pointer") {
  // Answer 1's exchange "mx1.example.test" starts at a known offset; answer 2 points at it.
  std::string first = mx(domain_pointer, 10, labels("mx1") + domain_pointer);
  std::string packet = response({first});
  unsigned exchange_offset = static_cast<unsigned>(packet.size() - 6);  // "\3mx1" + pointer
  packet = header(0, 1, 2) + packet.substr(12) + mx(domain_pointer, 5, pointer(exchange_offset));
  auto answer = missive::parse_mx_response(packet);
  CHECK(answer.outcome == kind::records);
  CHECK(hosts_of(answer) == std::vector<std::string>{"5 mx1.example.test", "10 mx1.example.test"});
}

TEST_CASE("parse_mx_response: records of other types are skipped") {
  auto cname = record(domain_pointer, 5, name("alias.example.net"));
  auto answer = missive::parse_mx_response(response({cname, mx(domain_pointer, 10, name("mx.example.net"))}));
  CHECK(answer.outcome == kind::records);
  CHECK(hosts_of(answer) == std::vector<std::string>{"10 mx.example.net"});
  CHECK(missive::parse_mx_response(response({cname})).outcome == kind::no_records);
}

TEST_CASE("parse_mx_response: RCODEs") {
  std::string nxdomain = header(3, 1, 0) + question(name("nowhere.test"));
  auto answer = missive::parse_mx_response(nxdomain);
  CHECK(answer.outcome == kind::no_domain);
  CHECK(answer.detail == "NXDOMAIN");
  CHECK(answer.hosts.empty());

  answer = missive::parse_mx_response(header(2, 1, 0) + question(name("example.test")));
  CHECK(answer.outcome == kind::temporary);
  CHECK(answer.detail == "SERVFAIL");

  answer = missive::parse_mx_response(header(5, 1, 0) + question(name("example.test")));
  CHECK(answer.outcome == kind::temporary);
  CHECK(answer.detail == "DNS error RCODE 5");

  // SERVFAIL without a question section is still SERVFAIL.
  CHECK(missive::parse_mx_response(header(2, 0, 0)).outcome == kind::temporary);
}

TEST_CASE("parse_mx_response: NOERROR without answers means no MX records") {
  auto answer = missive::parse_mx_response(response({}));
  CHECK(answer.outcome == kind::no_records);
  CHECK(answer.hosts.empty());
}

TEST_CASE("parse_mx_response: null MX (RFC 7505)") {
  auto answer = missive::parse_mx_response(response({mx(domain_pointer, 0, name(""))}));
  CHECK(answer.outcome == kind::null_mx);
  CHECK(answer.hosts.empty());
  // Beside real exchangers, the root is just no host to try.
  answer = missive::parse_mx_response(
      response({mx(domain_pointer, 0, name("")), mx(domain_pointer, 10, name("mx.example.net"))}));
  CHECK(answer.outcome == kind::records);
  CHECK(hosts_of(answer) == std::vector<std::string>{"10 mx.example.net"});
  // A root target with another preference is not a null MX, and nothing to deliver to.
  answer = missive::parse_mx_response(response({mx(domain_pointer, 10, name(""))}));
  CHECK(answer.outcome == kind::temporary);
}

TEST_CASE("parse_mx_response: a packet cut at every length is temporary, never a crash") {
  const std::vector<std::string> packets = {
      two_mx_response(),
      header(3, 1, 0) + question(name("nowhere.test")),  // a cut NXDOMAIN must not bounce
      response({mx(domain_pointer, 0, name(""))}),
      response({}),
  };
  for (const auto& packet : packets) {
    for (std::size_t length = 0; length < packet.size(); ++length) {
      INFO("length: ", length, " of ", packet.size());
      // A copy of exactly `length` octets, so reading past it is caught by sanitizers.
      std::string cut = packet.substr(0, length);
      auto answer = missive::parse_mx_response(cut);
      CHECK(answer.outcome == kind::temporary);
      CHECK(answer.hosts.empty());
      CHECK_FALSE(answer.detail.empty());
    }
  }
}

TEST_CASE("parse_mx_response: compression pointer loops") {
  // The question name points at itself.
  auto answer = missive::parse_mx_response(header(0, 1, 0) + pointer(12) + u16(15) + u16(1));
  CHECK(answer.outcome == kind::temporary);
  CHECK(answer.detail == "malformed DNS response: truncated question");
  // Two exchange names that point at each other: "a" -> "b" -> "a" ...
  std::string packet = response({});
  // A record is owner (2), type, class, TTL, RDLENGTH (10), preference (2), then exchange.
  unsigned a_offset = static_cast<unsigned>(packet.size() + 12 + 2);
  std::string a = mx(domain_pointer, 10, labels("a") + pointer(0));  // patched below
  unsigned b_offset = static_cast<unsigned>(packet.size() + a.size() + 12 + 2);
  a = mx(domain_pointer, 10, labels("a") + pointer(b_offset));
  std::string b = mx(domain_pointer, 20, labels("b") + pointer(a_offset));
  packet = header(0, 1, 2) + packet.substr(12) + a + b;
  answer = missive::parse_mx_response(packet);
  CHECK(answer.outcome == kind::temporary);
  CHECK(answer.detail == "malformed DNS response: bad MX record data");
  // Without the loop the same layout parses: b's exchange ends in a pointer to "a.example.test".
  b = mx(domain_pointer, 20, labels("b") + pointer(a_offset));
  a = mx(domain_pointer, 10, labels("a") + domain_pointer);
  answer = missive::parse_mx_response(header(0, 1, 2) + response({}).substr(12) + a + b);
  CHECK(hosts_of(answer) == std::vector<std::string>{"10 a.example.test", "20 b.a.example.test"});
}

TEST_CASE("parse_mx_response: lengths and pointers beyond the end") {
  std::string base = response({});
  // A pointer past the end of the packet.
  auto far = header(0, 1, 1) + base.substr(12) + mx(domain_pointer, 10, pointer(4000));
  CHECK(missive::parse_mx_response(far).outcome == kind::temporary);
  // RDLENGTH larger than what follows.
  auto rr = mx(domain_pointer, 10, name("mx.example.net"));
  rr[10] = 0x7F;
  CHECK(missive::parse_mx_response(header(0, 1, 1) + base.substr(12) + rr).outcome ==
        kind::temporary);
  // RDLENGTH that does not match the MX data inside it.
  rr = mx(domain_pointer, 10, name("mx.example.net") + "junk");
  CHECK(missive::parse_mx_response(header(0, 1, 1) + base.substr(12) + rr).outcome ==
        kind::temporary);
  // More answers announced than present.
  CHECK(missive::parse_mx_response(header(0, 1, 3) + two_mx_response().substr(12)).outcome ==
        kind::temporary);
  // A label length with the reserved high bits 01.
  CHECK(missive::parse_mx_response(header(0, 1, 0) + std::string("\x41", 1) + "a" + '\0' +
                                   u16(15) + u16(1))
            .outcome == kind::temporary);
  // A name longer than 255 octets.
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(1, 63) + std::string(63, 'a');
  CHECK(missive::parse_mx_response(header(0, 1, 0) + long_name + '\0' + u16(15) + u16(1))
            .outcome == kind::temporary);
  // A query, not a response.
  std::string query = two_mx_response();
  query[2] = 0x01;
  CHECK(missive::parse_mx_response(query).outcome == kind::temporary);
}

TEST_CASE("parse_mx_response: exchanger names that are no host names never come out") {
  auto hostile = mx(domain_pointer, 5, name("mx\r\nX-Injected: yes.example.net"));
  auto answer = missive::parse_mx_response(
      response({hostile, mx(domain_pointer, 10, name("mx.example.net"))}));
  CHECK(answer.outcome == kind::records);
  CHECK(hosts_of(answer) == std::vector<std::string>{"10 mx.example.net"});
  CHECK(missive::parse_mx_response(response({hostile})).outcome == kind::temporary);
}

TEST_CASE("parse_mx_response: every single-octet corruption is survived") {
  const std::string packet = two_mx_response();
  for (std::size_t at = 0; at < packet.size(); ++at) {
    for (int value : {0x00, 0x01, 0x3F, 0x40, 0x7F, 0xC0, 0xFF}) {
      std::string corrupt = packet;
      corrupt[at] = static_cast<char>(value);
      auto answer = missive::parse_mx_response(corrupt);
      if (answer.outcome == kind::records) CHECK_FALSE(answer.hosts.empty());
    }
  }
}
