// Unit tests for the POP3 client's response parser (RFC 1939 3): status lines, multi-line
// bodies with dot-unstuffing, limits, every response split at every byte.
#include <doctest/doctest.h>

#include <string>

#include "pop3_client.hpp"

using missive::pop3_parse_error;
using missive::pop3_parser_limits;
using missive::pop3_response;
using missive::pop3_response_parser;

namespace {

// Feeds `wire` in two pieces split at `split`; returns the parser and the octets consumed.
std::size_t feed_split(pop3_response_parser& parser, const std::string& wire, std::size_t split) {
  std::size_t used = parser.feed(std::string_view(wire).substr(0, split));
  if (!parser.done() && parser.error() == pop3_parse_error::none) {
    used += parser.feed(std::string_view(wire).substr(used));
  }
  return used;
}

}  // namespace

TEST_CASE("status lines") {
  pop3_response_parser parser;
  parser.expect(false);
  CHECK(parser.feed("+OK ready\r\n") == 11);
  REQUIRE(parser.done());
  CHECK(parser.response().ok());
  CHECK(parser.response().text == "ready");
  parser.expect(false);
  parser.feed("-ERR [AUTH] bad\r\n");
  CHECK(parser.response().kind == pop3_response::status::err);
  CHECK(parser.response().text == "[AUTH] bad");
  parser.expect(false);
  parser.feed("+ \r\n");
  CHECK(parser.response().kind == pop3_response::status::continuation);
  parser.expect(false);
  parser.feed("+OK\n");
  CHECK(parser.done());
  CHECK(parser.response().text.empty());
  parser.expect(false);
  parser.feed("HELLO\r\n");
  CHECK(parser.error() == pop3_parse_error::malformed);
}

TEST_CASE("multi-line responses, split at every byte") {
  const std::string wire =
      "+OK 5 octets\r\nSubject: x\r\n\r\n..starts with a dot\r\n...\r\n.\r\n+OK next\r\n";
  const std::string body = "Subject: x\r\n\r\n.starts with a dot\r\n..\r\n";
  const std::size_t first_end = wire.find("+OK next");
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    CAPTURE(split);
    pop3_response_parser parser;
    parser.expect(true);
    std::size_t used = feed_split(parser, wire, split);
    REQUIRE(parser.done());
    CHECK(used == first_end);
    CHECK(parser.response().text == "5 octets");
    CHECK(parser.response().body == body);
    // The rest is the next response, which the parser reads after expect().
    parser.expect(false);
    CHECK(parser.feed(std::string_view(wire).substr(used)) == wire.size() - used);
    CHECK(parser.done());
    CHECK(parser.response().text == "next");
  }
}

TEST_CASE("a multi-line command answered -ERR has no body") {
  pop3_response_parser parser;
  parser.expect(true);
  std::string wire = "-ERR no such message\r\n+OK x\r\n";
  CHECK(parser.feed(wire) == 22);
  CHECK(parser.done());
  CHECK_FALSE(parser.response().ok());
}

TEST_CASE("an empty multi-line body and LF-only line ends") {
  pop3_response_parser parser;
  parser.expect(true);
  parser.feed("+OK\n.\n");
  CHECK(parser.done());
  CHECK(parser.response().body.empty());
}

TEST_CASE("limits") {
  pop3_parser_limits limits;
  limits.status_line = 16;
  limits.data_line = 32;
  limits.body = 64;
  pop3_response_parser parser(limits);
  parser.expect(false);
  parser.feed("+OK this status line is far too long\r\n");
  CHECK(parser.error() == pop3_parse_error::line_too_long);

  parser.expect(true);
  parser.feed("+OK\r\n" + std::string(40, 'x') + "\r\n.\r\n");
  CHECK(parser.error() == pop3_parse_error::line_too_long);

  parser.expect(true);
  std::string wire = "+OK\r\n";
  for (int i = 0; i < 10; ++i) wire += std::string(20, 'y') + "\r\n";
  parser.feed(wire + ".\r\n");
  CHECK(parser.error() == pop3_parse_error::body_too_large);

  // A long line fed one octet at a time is caught as early as in one piece.
  parser.expect(false);
  std::string long_line(100, 'z');
  std::size_t fed = 0;
  for (char c : long_line) {
    fed += parser.feed(std::string_view(&c, 1));
    if (parser.error() != pop3_parse_error::none) break;
  }
  CHECK(parser.error() == pop3_parse_error::line_too_long);
  CHECK(fed <= 17);
}
