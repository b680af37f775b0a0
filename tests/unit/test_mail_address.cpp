// Unit tests for SMTP path and address parsing (RFC 5321 4.1.2, 4.5.3.1, RFC 6531).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "limits.hpp"
#include "mail_address.hpp"

using namespace std::literals;
using missive::address_error;

namespace {

// A valid domain name of exactly `length` octets, in labels of at most 49 letters.
std::string make_domain(std::size_t length) {
  std::string domain;
  while (domain.size() < length) {
    bool dot = domain.size() % 50 == 49 && domain.size() + 1 < length;
    domain += dot ? '.' : 'd';
  }
  return domain;
}

struct path_case {
  std::string text;
  bool allow_null;
  bool allow_utf8;
  address_error error;
  std::string local_part;
  std::string domain;
  std::size_t consumed;
};

}  // namespace

TEST_CASE("parse_path: valid paths") {
  const std::vector<path_case> cases = {
      {"<a@b.example>", false, false, address_error::none, "a", "b.example", 13},
      {"<a@b.example> SIZE=1", false, false, address_error::none, "a", "b.example", 13},
      {"<First.Last@Example.TEST>", false, false, address_error::none, "First.Last",
       "Example.TEST", 25},
      {"<!#$%&'*+-/=?^_`{|}~@x.test>", false, false, address_error::none,
       "!#$%&'*+-/=?^_`{|}~", "x.test", 28},
      {"<a@localhost>", false, false, address_error::none, "a", "localhost", 13},
      {"<a@1-2.example>", false, false, address_error::none, "a", "1-2.example", 15},
      {"<>", true, false, address_error::none, "", "", 2},
      {"<> SIZE=10", true, false, address_error::none, "", "", 2},
      {"<@a.example,@b.example:user@c.example>", false, false, address_error::none, "user",
       "c.example", 38},
      {"<@a.example:user@c.example>", false, false, address_error::none, "user", "c.example",
       27},
      {"<\"a b\"@x.test>", false, false, address_error::none, "a b", "x.test", 14},
      {"<\"a\\\"b\"@x.test>", false, false, address_error::none, "a\"b", "x.test", 15},
      {"<\"a>b\"@x.test>", false, false, address_error::none, "a>b", "x.test", 14},
      {"<\"\"@x.test>", false, false, address_error::none, "", "x.test", 11},
      {"<a@[192.0.2.1]>", false, false, address_error::none, "a", "[192.0.2.1]", 15},
      {"<a@[255.255.255.255]>", false, false, address_error::none, "a", "[255.255.255.255]",
       21},
      {"<a@[IPv6:2001:db8::1]>", false, false, address_error::none, "a", "[IPv6:2001:db8::1]",
       22},
      {"<a@[ipv6:::1]>", false, false, address_error::none, "a", "[ipv6:::1]", 14},
      {"<a@[IPv6:1:2:3:4:5:6:7:8]>", false, false, address_error::none, "a",
       "[IPv6:1:2:3:4:5:6:7:8]", 26},
      {"<a@[IPv6:::ffff:192.0.2.1]>", false, false, address_error::none, "a",
       "[IPv6:::ffff:192.0.2.1]", 27},
      {"<a@[IPv6:1:2:3:4:5:6:192.0.2.1]>", false, false, address_error::none, "a",
       "[IPv6:1:2:3:4:5:6:192.0.2.1]", 32},
      {"<a@[x-tag:some-content]>", false, false, address_error::none, "a",
       "[x-tag:some-content]", 24},
      {"<j\xc3\xb6s\xc3\xa9@b\xc3\xbc.example>", false, true, address_error::none,
       "j\xc3\xb6s\xc3\xa9", "b\xc3\xbc.example", 20},
      {"<\"j\xc3\xb6 s\"@x.test>", false, true, address_error::none, "j\xc3\xb6 s", "x.test",
       16},
  };
  for (const auto& c : cases) {
    INFO("path: ", c.text);
    auto parsed = missive::parse_path(c.text, {.allow_null = c.allow_null,
                                               .allow_utf8 = c.allow_utf8});
    CHECK(parsed.error == c.error);
    CHECK(parsed.address.local_part == c.local_part);
    CHECK(parsed.address.domain == c.domain);
    CHECK(parsed.consumed == c.consumed);
  }
}

TEST_CASE("parse_path: refused paths") {
  const std::vector<path_case> cases = {
      {"", true, true, address_error::syntax, "", "", 0},
      {"a@b.example", true, true, address_error::syntax, "", "", 0},
      {"<a@b.example", true, true, address_error::syntax, "", "", 0},
      {" <a@b.example>", true, true, address_error::syntax, "", "", 0},
      {"<>", false, false, address_error::null_not_allowed, "", "", 2},
      {"<a>", true, true, address_error::syntax, "", "", 3},
      {"<Postmaster>", true, true, address_error::syntax, "", "", 12},
      {"<;sleep 1;>", true, true, address_error::syntax, "", "", 11},
      {"<`id`>", true, true, address_error::syntax, "", "", 6},
      {"<'; DROP TABLE users; -->", true, true, address_error::syntax, "", "", 25},
      {"<a;b@example.test>", true, true, address_error::syntax, "", "", 18},
      {"<a b@example.test>", true, true, address_error::syntax, "", "", 18},
      {"< a@example.test>", true, true, address_error::syntax, "", "", 17},
      {"<a@example.test >", true, true, address_error::syntax, "", "", 17},
      {"<a@@example.test>", true, true, address_error::syntax, "", "", 17},
      {"<a@b@example.test>", true, true, address_error::syntax, "", "", 18},
      {"<@example.test>", true, true, address_error::syntax, "", "", 15},
      {"<a@>", true, true, address_error::syntax, "", "", 4},
      {"<.a@b.example>", true, true, address_error::syntax, "", "", 14},
      {"<a.@b.example>", true, true, address_error::syntax, "", "", 14},
      {"<a..b@b.example>", true, true, address_error::syntax, "", "", 16},
      {"<a@-b.example>", true, true, address_error::syntax, "", "", 14},
      {"<a@b-.example>", true, true, address_error::syntax, "", "", 14},
      {"<a@b..example>", true, true, address_error::syntax, "", "", 14},
      {"<a@b.example.>", true, true, address_error::syntax, "", "", 14},
      {"<a@.b.example>", true, true, address_error::syntax, "", "", 14},
      {"<a@b_c.example>", true, true, address_error::syntax, "", "", 15},
      {"<a@[256.0.0.1]>", true, true, address_error::syntax, "", "", 15},
      {"<a@[1.2.3]>", true, true, address_error::syntax, "", "", 11},
      {"<a@[1.2.3.4.5]>", true, true, address_error::syntax, "", "", 15},
      {"<a@[1.2.3.0004]>", true, true, address_error::syntax, "", "", 16},
      {"<a@[]>", true, true, address_error::syntax, "", "", 6},
      {"<a@[IPv6:1:2:3:4:5:6:7]>", true, true, address_error::syntax, "", "", 24},
      {"<a@[IPv6:1:2:3:4:5:6:7::]>", true, true, address_error::syntax, "", "", 26},
      {"<a@[IPv6:1::2::3]>", true, true, address_error::syntax, "", "", 18},
      {"<a@[IPv6:12345::1]>", true, true, address_error::syntax, "", "", 19},
      {"<a@[IPv6:zz::1]>", true, true, address_error::syntax, "", "", 16},
      {"<a@[IPv6:1:]>", true, true, address_error::syntax, "", "", 13},
      {"<a@[x-tag:]>", true, true, address_error::syntax, "", "", 12},
      {"<a@[x-tag:a[b]>", true, true, address_error::syntax, "", "", 15},
      {"<a@192.0.2.1]>", true, true, address_error::syntax, "", "", 14},
      {"<@a.example user@c.example>", true, true, address_error::syntax, "", "", 27},
      {"<@a.example,user@c.example>", true, true, address_error::syntax, "", "", 27},
      {"<@:user@c.example>", true, true, address_error::syntax, "", "", 18},
      {"<a.example:user@c.example>", true, true, address_error::syntax, "", "", 26},
      {"<\"a@b.example>", true, true, address_error::syntax, "", "", 0},
      {"<\"a\"b@x.test>", true, true, address_error::syntax, "", "", 13},
      {"<\"a\x01\"@x.test>", true, true, address_error::syntax, "", "", 13},
      {"<\"a\\\x01\"@x.test>", true, true, address_error::syntax, "", "", 14},
      {"<a\r@b.example>"s, true, true, address_error::syntax, "", "", 14},
      {"<a\n@b.example>"s, true, true, address_error::syntax, "", "", 14},
      {"<a@b.example\0>"s, true, true, address_error::syntax, "", "", 14},
      {"<a\0b@b.example>"s, true, true, address_error::syntax, "", "", 15},
      {"<a\t@b.example>", true, true, address_error::syntax, "", "", 14},
      {"<j\xc3\xb6@b.example>", true, false, address_error::non_ascii, "", "", 15},
      {"<a@b\xc3\xbc.example>", true, false, address_error::non_ascii, "", "", 15},
      {"<\"j\xc3\xb6\"@b.example>", true, false, address_error::non_ascii, "", "", 17},
      {"<a@[IPv6:\xc3\xbc::1]>", true, true, address_error::syntax, "", "", 16},
  };
  for (const auto& c : cases) {
    INFO("path: ", c.text);
    auto parsed = missive::parse_path(c.text, {.allow_null = c.allow_null,
                                               .allow_utf8 = c.allow_utf8});
    CHECK(parsed.error == c.error);
    CHECK(parsed.address.is_null());
    CHECK(parsed.consumed == c.consumed);
  }
}

TEST_CASE("parse_path: RFC 5321 4.5.3.1 length limits") {
  const std::string local64(64, 'l');
  const std::string local65(65, 'l');
  // "<" + 64 + "@" + 189 + ">" is 256 octets.
  const std::string at_limit = "<" + local64 + "@" + make_domain(189) + ">";
  const std::string over_limit = "<" + local64 + "@" + make_domain(190) + ">";
  REQUIRE(at_limit.size() == missive::limits::path);
  REQUIRE(over_limit.size() == missive::limits::path + 1);

  auto parsed = missive::parse_path(at_limit, {});
  CHECK(parsed.error == address_error::none);
  CHECK(parsed.address.local_part == local64);
  CHECK(parsed.consumed == 256);

  parsed = missive::parse_path(over_limit, {});
  CHECK(parsed.error == address_error::path_too_long);
  CHECK(parsed.consumed == 257);

  parsed = missive::parse_path("<" + local65 + "@b.example>", {});
  CHECK(parsed.error == address_error::local_part_too_long);
  CHECK(parsed.address.is_null());
  CHECK(parsed.consumed == 77);

  // A quoted local part counts as written, quotes included.
  parsed = missive::parse_path("<\"" + std::string(62, 'q') + "\"@b.example>", {});
  CHECK(parsed.error == address_error::none);
  parsed = missive::parse_path("<\"" + std::string(63, 'q') + "\"@b.example>", {});
  CHECK(parsed.error == address_error::local_part_too_long);

  // The path limit is checked first: a 256-octet domain is always a too-long path.
  parsed = missive::parse_path("<a@" + make_domain(256) + ">", {});
  CHECK(parsed.error == address_error::path_too_long);
  // A hostile path much longer than any limit, full of junk, is refused by length.
  parsed = missive::parse_path("<" + std::string(5000, ';') + ">", {});
  CHECK(parsed.error == address_error::path_too_long);
}

TEST_CASE("parse_address: bare addresses") {
  struct address_case {
    std::string text;
    bool allow_utf8;
    address_error error;
    std::string local_part;
    std::string domain;
    std::size_t consumed;
  };
  const std::string domain255 = make_domain(255);
  const std::string domain256 = make_domain(256);
  const std::vector<address_case> cases = {
      {"alice@example.test", true, address_error::none, "alice", "example.test", 18},
      {"\"a b\"@example.test", true, address_error::none, "a b", "example.test", 18},
      {"a@[192.0.2.1]", true, address_error::none, "a", "[192.0.2.1]", 13},
      {"j\xc3\xb6@example.test", true, address_error::none, "j\xc3\xb6", "example.test", 16},
      {"j\xc3\xb6@example.test", false, address_error::non_ascii, "", "", 0},
      {std::string(64, 'l') + "@x.test", true, address_error::none, std::string(64, 'l'),
       "x.test", 71},
      {std::string(65, 'l') + "@x.test", true, address_error::local_part_too_long, "", "", 0},
      {"a@" + domain255, true, address_error::none, "a", domain255, 257},
      {"a@" + domain256, true, address_error::domain_too_long, "", "", 0},
      {"<a@example.test>", true, address_error::syntax, "", "", 0},
      {"a@example.test ", true, address_error::syntax, "", "", 0},
      {" a@example.test", true, address_error::syntax, "", "", 0},
      {"alice", true, address_error::syntax, "", "", 0},
      {"", true, address_error::syntax, "", "", 0},
      {"@example.test", true, address_error::syntax, "", "", 0},
      {"a;b@example.test", true, address_error::syntax, "", "", 0},
  };
  for (const auto& c : cases) {
    INFO("address: ", c.text);
    auto parsed = missive::parse_address(c.text, c.allow_utf8);
    CHECK(parsed.error == c.error);
    CHECK(parsed.address.local_part == c.local_part);
    CHECK(parsed.address.domain == c.domain);
    CHECK(parsed.consumed == c.consumed);
  }
}

TEST_CASE("mail_address::str re-quotes local parts that are not Dot-strings") {
  struct str_case {
    missive::mail_address address;
    std::string expected;
  };
  const std::vector<str_case> cases = {
      {{"alice", "example.test"}, "alice@example.test"},
      {{"first.last", "example.test"}, "first.last@example.test"},
      {{"", ""}, ""},
      {{"Postmaster", ""}, "Postmaster"},
      {{"a b", "x.test"}, "\"a b\"@x.test"},
      {{"a\"b", "x.test"}, "\"a\\\"b\"@x.test"},
      {{"a\\b", "x.test"}, "\"a\\\\b\"@x.test"},
      {{".a", "x.test"}, "\".a\"@x.test"},
      {{"a..b", "x.test"}, "\"a..b\"@x.test"},
      {{"a;b", "x.test"}, "\"a;b\"@x.test"},
      {{"", "x.test"}, "\"\"@x.test"},
      {{"j\xc3\xb6", "x.test"}, "j\xc3\xb6@x.test"},
  };
  for (const auto& c : cases) {
    INFO("expected: ", c.expected);
    CHECK(c.address.str() == c.expected);
  }
}

TEST_CASE("mail_address::str round-trips through parse_path") {
  for (std::string local : {"a b", "a\"b", "a\\b", ".x", "plain", "x@y"}) {
    INFO("local part: ", local);
    missive::mail_address address{local, "example.test"};
    auto parsed = missive::parse_path("<" + address.str() + ">", {});
    REQUIRE(parsed.error == address_error::none);
    CHECK(parsed.address.local_part == local);
    CHECK(parsed.address.domain == "example.test");
  }
}

TEST_CASE("lowercase_ascii lowers ASCII letters only") {
  CHECK(missive::lowercase_ascii("ExAmPlE.TEST") == "example.test");
  CHECK(missive::lowercase_ascii("") == "");
  CHECK(missive::lowercase_ascii("B\xc3\x9c.Example") == "b\xc3\x9c.example");
  CHECK(missive::lowercase_ascii("[IPv6:ABCD::1]") == "[ipv6:abcd::1]");
}
