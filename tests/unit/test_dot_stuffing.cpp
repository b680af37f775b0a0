// Unit tests for dot-stuffing (RFC 5321 4.5.2), checked against the DATA decoder.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "data_reader.hpp"
#include "dot_stuffing.hpp"

using namespace std::literals;

TEST_CASE("append_dot_stuffed: exact output") {
  struct stuffing_case {
    std::string text;
    std::string wire;
  };
  const std::vector<stuffing_case> cases = {
      {"", ".\r\n"},
      {"a", "a\r\n.\r\n"},
      {"a\r\n", "a\r\n.\r\n"},
      {".", "..\r\n.\r\n"},
      {".\r\n", "..\r\n.\r\n"},
      {"..\r\n", "...\r\n.\r\n"},
      {"\r\n", "\r\n.\r\n"},
      {"\r\n.\r\n", "\r\n..\r\n.\r\n"},
      {"a\r\n.b\r\nc.\r\n", "a\r\n..b\r\nc.\r\n.\r\n"},
      {"a.b", "a.b\r\n.\r\n"},
      {"a\r\n.", "a\r\n..\r\n.\r\n"},
      {"a\r\n.\r\n.", "a\r\n..\r\n..\r\n.\r\n"},
      // A bare LF is copied, and a dot after it is doubled all the same.
      {"a\n.b\r\n", "a\n..b\r\n.\r\n"},
      {"a\r", "a\r\r\n.\r\n"},
      {"\0.\r\n"s, "\0.\r\n.\r\n"s},
  };
  for (const auto& c : cases) {
    INFO("text: ", c.text);
    std::string out;
    missive::append_dot_stuffed(out, c.text);
    CHECK(out == c.wire);
    std::string appended = "354 go\r\n";
    missive::append_dot_stuffed(appended, c.text);
    CHECK(appended == "354 go\r\n" + c.wire);
  }
}

namespace {

// Decodes `wire` fed in the given pieces; checks the reader took all of it and ended.
std::string decode(const std::vector<std::string_view>& pieces) {
  missive::data_reader reader(32u << 20);
  std::size_t consumed = 0;
  std::size_t total = 0;
  for (auto piece : pieces) {
    consumed += reader.feed(piece);
    total += piece.size();
  }
  CHECK(consumed == total);
  CHECK(reader.done());
  CHECK(reader.error() == missive::data_error::none);
  return reader.message();
}

}  // namespace

TEST_CASE("append_dot_stuffed then data_reader gives back the text, split everywhere") {
  std::string eight_bit;
  for (int c = 0x80; c <= 0xFF; ++c) eight_bit += char(c);
  const std::vector<std::string> texts = {
      "",
      "a\r\n",
      ".\r\n",
      "..\r\n",
      "...\r\n",
      ".x\r\n",
      "\r\n",
      "\r\n\r\n\r\n",
      "\r\n.\r\n",
      "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\n\r\n.\r\n",
      ".\r\n.\r\n.\r\n",
      eight_bit + "\r\n." + eight_bit + "\r\n",
      "no final line ending",
      ".",
      "a\r\n.",
  };
  for (const auto& text : texts) {
    INFO("text: ", text);
    std::string wire;
    missive::append_dot_stuffed(wire, text);
    std::string expected = text.empty() || text.ends_with("\r\n") ? text : text + "\r\n";
    std::string_view view = wire;
    CHECK(decode({view}) == expected);
    for (std::size_t i = 0; i <= view.size(); ++i) {
      INFO("split at ", i);
      CHECK(decode({view.substr(0, i), view.substr(i)}) == expected);
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < view.size(); ++i) bytes.push_back(view.substr(i, 1));
    CHECK(decode(bytes) == expected);
  }
}

TEST_CASE("append_dot_stuffed: a 10 MiB text of dot lines") {
  std::string text;
  while (text.size() < (10u << 20)) text += ".\r\n..\r\nline\r\n";
  std::string wire;
  missive::append_dot_stuffed(wire, text);
  // Every line that starts with a dot gets one more: two of the three lines per group.
  std::size_t groups = text.size() / 13;
  CHECK(wire.size() == text.size() + 2 * groups + 3);
  CHECK(wire.starts_with("..\r\n...\r\nline\r\n"));
  CHECK(wire.ends_with("line\r\n.\r\n"));
  CHECK(decode({wire}) == text);
}
