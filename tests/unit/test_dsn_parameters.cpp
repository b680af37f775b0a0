// The DSN codecs: xtext (RFC 3461 4), the NOTIFY, RET, ENVID and ORCPT values, and what a
// NOTIFY asks for.
#include <doctest/doctest.h>

#include <string>

#include "dsn_parameters.hpp"
#include "xtext.hpp"

using namespace missive;
using namespace std::string_literals;

TEST_CASE("xtext_decode") {
  struct xtext_case {
    std::string text;
    std::optional<std::string> decoded;
  };
  const xtext_case cases[] = {
      {"", ""s},
      {"abc", "abc"s},
      {"a+2Bb", "a+b"s},
      {"a+3Db", "a=b"s},
      {"+20", " "s},
      {"+00", "\0"s},
      {"+FF", "\xff"s},
      {"~!", "~!"s},
      {"a+2b", std::nullopt},   // RFC 3461 4: upper-case hex only
      {"a+2", std::nullopt},
      {"a+", std::nullopt},
      {"+G0", std::nullopt},
      {"a=b", std::nullopt},    // "=" is not an xchar
      {"a b", std::nullopt},
      {"a\x7f", std::nullopt},
      {"\xc3\xa9", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO("text: ", c.text);
    CHECK(xtext_decode(c.text) == c.decoded);
  }
}

TEST_CASE("xtext_encode gives back what xtext_decode takes") {
  CHECK(xtext_encode("a+b=c d") == "a+2Bb+3Dc+20d");
  CHECK(xtext_encode("\r\n\xff") == "+0D+0A+FF");
  for (int octet = 0; octet < 256; ++octet) {
    std::string one(1, static_cast<char>(octet));
    auto again = xtext_decode(xtext_encode("x" + one + "y"));
    REQUIRE(again);
    CHECK(*again == "x" + one + "y");
  }
}

TEST_CASE("parse_notify") {
  using namespace dsn_notify;
  CHECK(parse_notify("NEVER") == never);
  CHECK(parse_notify("never") == never);
  CHECK(parse_notify("SUCCESS") == success);
  CHECK(parse_notify("FAILURE") == failure);
  CHECK(parse_notify("DELAY") == delay);
  CHECK(parse_notify("SUCCESS,FAILURE") == (success | failure));
  CHECK(parse_notify("delay,success,failure") == (success | failure | delay));
  CHECK(!parse_notify(""));
  CHECK(!parse_notify("NEVER,SUCCESS"));  // RFC 3461 4.1: NEVER stands alone
  CHECK(!parse_notify("SUCCESS,NEVER"));
  CHECK(!parse_notify("SUCCESS,"));
  CHECK(!parse_notify(",SUCCESS"));
  CHECK(!parse_notify("SUCCESS,SUCCESS"));
  CHECK(!parse_notify("SUCCESS FAILURE"));
  CHECK(!parse_notify("WARN"));
  CHECK(format_notify(success | delay) == "SUCCESS,DELAY");
  CHECK(format_notify(never) == "NEVER");
  CHECK(format_notify(failure) == "FAILURE");
}

TEST_CASE("notify_wants: RFC 3461 4.1 defaults and NEVER") {
  using namespace dsn_notify;
  CHECK(!notify_wants(0, dsn_event::success));
  CHECK(notify_wants(0, dsn_event::failure));
  CHECK(notify_wants(0, dsn_event::delay));
  CHECK(!notify_wants(never, dsn_event::failure));
  CHECK(!notify_wants(never, dsn_event::delay));
  CHECK(!notify_wants(never, dsn_event::success));
  CHECK(notify_wants(success, dsn_event::success));
  CHECK(!notify_wants(success, dsn_event::failure));
  CHECK(!notify_wants(success, dsn_event::delay));
  CHECK(!notify_wants(failure, dsn_event::delay));
  CHECK(notify_wants(failure | delay, dsn_event::delay));
}

TEST_CASE("parse_ret and parse_envid") {
  CHECK(parse_ret("FULL") == dsn_return::full);
  CHECK(parse_ret("hdrs") == dsn_return::headers);
  CHECK(!parse_ret("HEADERS"));
  CHECK(!parse_ret(""));
  CHECK(parse_envid("abc+2B1") == "abc+1"s);
  CHECK(parse_envid("a+20b") == "a b"s);
  CHECK(parse_envid(std::string(100, 'e')) == std::string(100, 'e'));
  CHECK(!parse_envid(std::string(101, 'e')));  // RFC 3461 4.4
  CHECK(!parse_envid(""));
  CHECK(!parse_envid("a+0Db"));  // a CR, decoded
  CHECK(!parse_envid("a+80"));
  CHECK(!parse_envid("a=b"));
}

TEST_CASE("parse_orcpt") {
  auto plain = parse_orcpt("rfc822;alice@example.test");
  REQUIRE(plain);
  CHECK(plain->type == "rfc822");
  CHECK(plain->address == "alice@example.test");
  auto encoded = parse_orcpt("RFC822;a+2Bb@example.test");
  REQUIRE(encoded);
  CHECK(encoded->address == "a+b@example.test");
  CHECK(format_orcpt(*encoded) == "RFC822;a+2Bb@example.test");
  // Another address type: its address is not an RFC 5321 mailbox, only printable text.
  auto x400 = parse_orcpt("x400;c+3Dus+3Ba+3Datt");
  REQUIRE(x400);
  CHECK(x400->address == "c=us;a=att");
  CHECK(!parse_orcpt("rfc822;"));
  CHECK(!parse_orcpt("rfc822"));
  CHECK(!parse_orcpt(";a@example.test"));
  CHECK(!parse_orcpt("rfc 822;a@example.test"));
  CHECK(!parse_orcpt("rfc822;not-an-address"));
  CHECK(!parse_orcpt("rfc822;<a@example.test>"));
  CHECK(!parse_orcpt("rfc822;a+0A@example.test"));
  CHECK(!parse_orcpt("rfc822;a+2b@example.test"));
  CHECK(!parse_orcpt("rfc822;" + std::string(500, 'a') + "@example.test"));
}
