// Unit tests for POP3 command lines (RFC 1939 3, RFC 2449, RFC 5034).
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "pop3_command.hpp"

using namespace std::literals;
using missive::pop3_verb;

TEST_CASE("parse_pop3_command") {
  struct pop3_case {
    std::string line;
    pop3_verb verb;
    std::vector<std::string> arguments;
    bool malformed;
  };
  const std::string arg40(40, 'a');
  const std::string arg41(41, 'a');
  const std::string long_response(300, 'Q');
  const std::vector<pop3_case> cases = {
      {"USER alice@example.test", pop3_verb::user, {"alice@example.test"}, false},
      {"user bob", pop3_verb::user, {"bob"}, false},
      {"USER", pop3_verb::user, {}, false},
      {"USER ", pop3_verb::user, {}, false},
      {"PASS secret with  spaces ", pop3_verb::pass, {"secret with  spaces "}, false},
      {"PASS " + std::string(60, 'p'), pop3_verb::pass, {std::string(60, 'p')}, false},
      {"pass  lead", pop3_verb::pass, {" lead"}, false},
      {"PASS", pop3_verb::pass, {}, false},
      {"PASS ", pop3_verb::pass, {}, false},
      {"PASS se\rcret", pop3_verb::pass, {"se\rcret"}, true},
      {"APOP mrose c4c9334bac560ecc979e58001b3e22fb", pop3_verb::apop,
       {"mrose", "c4c9334bac560ecc979e58001b3e22fb"}, false},
      {"AUTH PLAIN " + long_response, pop3_verb::auth, {"PLAIN", long_response}, false},
      {"AUTH PLAIN", pop3_verb::auth, {"PLAIN"}, false},
      {"AUTH", pop3_verb::auth, {}, false},
      {"AUTH " + arg41, pop3_verb::auth, {arg41}, true},
      {"CAPA", pop3_verb::capa, {}, false},
      {"STLS", pop3_verb::stls, {}, false},
      {"STAT", pop3_verb::stat, {}, false},
      {"stat ", pop3_verb::stat, {}, false},
      {"LIST", pop3_verb::list, {}, false},
      {"LIST 1", pop3_verb::list, {"1"}, false},
      {"LIST 1 ", pop3_verb::list, {"1"}, false},
      {"LIST 1  ", pop3_verb::list, {"1", ""}, true},
      {"LIST  1", pop3_verb::list, {"", "1"}, true},
      {"RETR " + arg40, pop3_verb::retr, {arg40}, false},
      {"RETR " + arg41, pop3_verb::retr, {arg41}, true},
      {"USER " + arg41, pop3_verb::user, {arg41}, true},
      {"Dele 3", pop3_verb::dele, {"3"}, false},
      {"NOOP", pop3_verb::noop, {}, false},
      {"RSET", pop3_verb::rset, {}, false},
      {"TOP 1 10", pop3_verb::top, {"1", "10"}, false},
      {"UIDL", pop3_verb::uidl, {}, false},
      {"UIDL 2", pop3_verb::uidl, {"2"}, false},
      {"QUIT", pop3_verb::quit, {}, false},
      {"RETR 1\0"s, pop3_verb::retr, {"1\0"s}, true},
      {"USER a\tb", pop3_verb::user, {"a\tb"}, true},
      {"USER a\x7f", pop3_verb::user, {"a\x7f"}, true},
      {"RETR 1\r\nDELE 1", pop3_verb::retr, {"1\r\nDELE", "1"}, true},
      {"XTND foo", pop3_verb::unknown, {"foo"}, false},
      {"RETRX 1", pop3_verb::unknown, {"1"}, false},
      {"RET 1", pop3_verb::unknown, {"1"}, false},
      {"", pop3_verb::unknown, {}, false},
      {" RETR 1", pop3_verb::unknown, {"RETR", "1"}, false},
  };
  for (const auto& c : cases) {
    INFO("line: ", c.line);
    auto command = missive::parse_pop3_command(c.line);
    CHECK(command.verb == c.verb);
    CHECK(command.malformed == c.malformed);
    std::vector<std::string> arguments(command.arguments.begin(), command.arguments.end());
    CHECK(arguments == c.arguments);
  }
}

TEST_CASE("parse_message_number and parse_line_count") {
  struct number_case {
    std::string text;
    std::optional<std::uint32_t> message_number;
    std::optional<std::uint32_t> line_count;
  };
  const std::vector<number_case> cases = {
      {"1", 1u, 1u},
      {"01", 1u, 1u},
      {"42", 42u, 42u},
      {"4294967295", 4294967295u, 4294967295u},
      {"0004294967295", 4294967295u, 4294967295u},
      {"0", std::nullopt, 0u},
      {"00", std::nullopt, 0u},
      {"4294967296", std::nullopt, std::nullopt},
      {"99999999999", std::nullopt, std::nullopt},
      {"99999999999999999999999999", std::nullopt, std::nullopt},
      {"-1", std::nullopt, std::nullopt},
      {"+1", std::nullopt, std::nullopt},
      {"1x", std::nullopt, std::nullopt},
      {"x1", std::nullopt, std::nullopt},
      {"", std::nullopt, std::nullopt},
      {" 1", std::nullopt, std::nullopt},
      {"1 ", std::nullopt, std::nullopt},
      {"1.0", std::nullopt, std::nullopt},
      {"0x10", std::nullopt, std::nullopt},
      {"1\0"s, std::nullopt, std::nullopt},
      {"\xd9\xa1", std::nullopt, std::nullopt},
  };
  for (const auto& c : cases) {
    INFO("text: ", c.text);
    CHECK(missive::parse_message_number(c.text) == c.message_number);
    CHECK(missive::parse_line_count(c.text) == c.line_count);
  }
}
