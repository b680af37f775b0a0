// Unit tests for the SMTP reply parser (RFC 5321 4.2, 4.5.3.1.5, RFC 2034, RFC 3463), every
// input fed whole, split at every byte offset, in three pieces and byte by byte.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "limits.hpp"
#include "smtp_reply_parser.hpp"

using missive::reply_error;
using missive::smtp_reply;

namespace {

// What a parser made of an input: the replies completed, then how it stands.
struct outcome {
  std::vector<smtp_reply> replies;
  reply_error error = reply_error::none;
  std::size_t consumed = 0;
};

bool same_reply(const smtp_reply& a, const smtp_reply& b) {
  return a.code == b.code && a.enhanced == b.enhanced && a.text == b.text;
}

// Feeds the pieces in order, taking every completed reply (as a pipelining client does).
outcome read_pieces(const std::vector<std::string_view>& pieces, std::size_t max_lines) {
  missive::smtp_reply_parser parser(max_lines);
  outcome result;
  for (auto piece : pieces) {
    while (!piece.empty()) {
      auto consumed = parser.feed(piece);
      CHECK(consumed <= piece.size());
      result.consumed += consumed;
      piece.remove_prefix(consumed);
      if (parser.error() != reply_error::none) break;
      if (parser.done()) {
        result.replies.push_back(parser.reply());
        parser.next();
      } else {
        // Fewer octets than given are consumed only when a reply ended or an error was found.
        CHECK(piece.empty());
      }
    }
    if (parser.error() != reply_error::none) break;
  }
  result.error = parser.error();
  return result;
}

// Whole, every two-way split, a three-way split at every offset, byte by byte.
std::vector<std::vector<std::string_view>> every_split(std::string_view input) {
  std::vector<std::vector<std::string_view>> ways;
  ways.push_back({input});
  for (std::size_t i = 0; i <= input.size(); ++i) {
    ways.push_back({input.substr(0, i), input.substr(i)});
    if (i + 3 <= input.size()) {
      ways.push_back({input.substr(0, i), input.substr(i, 3), input.substr(i + 3)});
    }
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  ways.push_back(bytes);
  return ways;
}

void check_same(const outcome& got, const outcome& expected) {
  REQUIRE(got.replies.size() == expected.replies.size());
  for (std::size_t i = 0; i < got.replies.size(); ++i) {
    INFO("reply ", i, ": ", got.replies[i].code, " [", got.replies[i].enhanced, "] ",
         got.replies[i].text);
    CHECK(same_reply(got.replies[i], expected.replies[i]));
  }
  CHECK(got.error == expected.error);
  CHECK(got.consumed == expected.consumed);
}

// Checks that every way of feeding `input` gives `expected`.
void check_all_splits(std::string_view input, const outcome& expected,
                      std::size_t max_lines = 100) {
  INFO("input: ", std::string(input.substr(0, 200)));
  for (const auto& pieces : every_split(input)) {
    INFO("pieces: ", pieces.size(), ", first: ", pieces.front().size());
    check_same(read_pieces(pieces, max_lines), expected);
  }
}

outcome replies(std::vector<smtp_reply> list, std::size_t consumed) {
  outcome result;
  result.replies = std::move(list);
  result.consumed = consumed;
  return result;
}

outcome failed(reply_error error, std::size_t consumed, std::vector<smtp_reply> before = {}) {
  outcome result;
  result.replies = std::move(before);
  result.error = error;
  result.consumed = consumed;
  return result;
}

struct parser_case {
  std::string input;
  std::vector<smtp_reply> replies;
};

}  // namespace

TEST_CASE("smtp_reply_parser: well-formed replies, exact values") {
  const std::vector<parser_case> cases = {
      {"220 mx.example.test ESMTP ready\r\n", {{220, "", "mx.example.test ESMTP ready"}}},
      {"250 OK\r\n", {{250, "", "OK"}}},
      {"250\r\n", {{250, "", ""}}},
      {"250 \r\n", {{250, "", ""}}},
      {"354 End data with <CR><LF>.<CR><LF>\r\n",
       {{354, "", "End data with <CR><LF>.<CR><LF>"}}},
      {"250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n",
       {{250, "", "mx.example.test\nPIPELINING\nSIZE 10240000\n8BITMIME"}}},
      // RFC 2034: the enhanced code is taken out of every line when all carry the same.
      {"250 2.1.0 Sender OK\r\n", {{250, "2.1.0", "Sender OK"}}},
      {"550-5.1.1 No such user\r\n550 5.1.1 Try again\r\n",
       {{550, "5.1.1", "No such user\nTry again"}}},
      {"250 2.0.0\r\n", {{250, "2.0.0", ""}}},
      {"250-2.0.0 a\r\n250-2.0.0\r\n250 2.0.0 b\r\n", {{250, "2.0.0", "a\n\nb"}}},
      {"421 4.4.2 closing: idle\r\n", {{421, "4.4.2", "closing: idle"}}},
      {"552 5.3.4 Message too big\r\n", {{552, "5.3.4", "Message too big"}}},
      {"250 2.100.999 x\r\n", {{250, "2.100.999", "x"}}},
      // Not on every line, or not the same: the text stays as sent.
      {"550-5.1.1 a\r\n550 b\r\n", {{550, "", "5.1.1 a\nb"}}},
      {"550-a\r\n550 5.1.1 b\r\n", {{550, "", "a\n5.1.1 b"}}},
      {"550-5.1.1 a\r\n550 5.1.2 b\r\n", {{550, "", "5.1.1 a\n5.1.2 b"}}},
      // Not an enhanced code at all.
      {"250 2.0.0x\r\n", {{250, "", "2.0.0x"}}},
      {"250 2.0.0.1 x\r\n", {{250, "", "2.0.0.1 x"}}},
      {"250 3.0.0 x\r\n", {{250, "", "3.0.0 x"}}},
      {"250 2.1000.0 x\r\n", {{250, "", "2.1000.0 x"}}},
      {"250 2..0 x\r\n", {{250, "", "2..0 x"}}},
      {"250 2.0. x\r\n", {{250, "", "2.0. x"}}},
      {"250 2.0\r\n", {{250, "", "2.0"}}},
      // Empty continuation lines, and the separator only.
      {"250-\r\n250 \r\n", {{250, "", "\n"}}},
      {"250-a\r\n250\r\n", {{250, "", "a\n"}}},
      // A bare LF ends a line too (lenient with servers); a CR inside a line is text.
      {"250-a\n250 b\n", {{250, "", "a\nb"}}},
      {"250-a\r\n250 b\n", {{250, "", "a\nb"}}},
      {"250 a\rb\r\n", {{250, "", "a\rb"}}},
      {"250 8-bit \xc3\xa9t\xc3\xa9\r\n", {{250, "", "8-bit \xc3\xa9t\xc3\xa9"}}},
      // Pipelining (RFC 2920): several replies in one buffer, read one at a time.
      {"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no\r\n354 go\r\n",
       {{250, "2.1.0", "ok"}, {250, "2.1.5", "ok"}, {550, "5.1.1", "no"}, {354, "", "go"}}},
      {"250-a\r\n250 b\r\n221 bye\r\n", {{250, "", "a\nb"}, {221, "", "bye"}}},
  };
  for (const auto& c : cases) {
    check_all_splits(c.input, replies(c.replies, c.input.size()));
  }
}

TEST_CASE("smtp_reply_parser: an unfinished reply is not done") {
  const std::vector<std::string> inputs = {"", "2", "250", "250 ok", "250 ok\r", "250-a\r\n",
                                           "250-a\r\n250 b"};
  for (const auto& input : inputs) {
    INFO("input: ", input);
    check_all_splits(input, replies({}, input.size()));
    missive::smtp_reply_parser parser;
    CHECK(parser.feed(input) == input.size());
    CHECK_FALSE(parser.done());
    CHECK(parser.error() == reply_error::none);
  }
  // The rest arriving later completes it.
  missive::smtp_reply_parser parser;
  CHECK(parser.feed("250-a\r\n250 b") == 12);
  CHECK(parser.feed("\r\n221 bye\r\n") == 2);
  REQUIRE(parser.done());
  CHECK(same_reply(parser.reply(), {250, "", "a\nb"}));
  // Done: nothing more is taken until next().
  CHECK(parser.feed("221 bye\r\n") == 0);
  parser.next();
  CHECK_FALSE(parser.done());
  CHECK(parser.feed("221 bye\r\n") == 9);
  REQUIRE(parser.done());
  CHECK(same_reply(parser.reply(), {221, "", "bye"}));
}

TEST_CASE("smtp_reply_parser: garbage and mismatched codes are malformed") {
  struct bad_case {
    std::string input;
    std::size_t consumed;  // octets taken up to the end of the offending line
    std::vector<smtp_reply> before = {};
  };
  const std::vector<bad_case> cases = {
      {"hello\r\n", 7},
      {"\r\n", 2},
      {"\n", 1},
      {"25\r\n", 4},
      {"2500 x\r\n", 8},
      {"250x\r\n", 6},
      {"250\tx\r\n", 7},
      {"25a ok\r\n", 8},
      {"a50 ok\r\n", 8},
      {"150 preliminary\r\n", 17},   // 1yz is not an SMTP reply
      {"650 x\r\n", 7},
      {"050 x\r\n", 7},
      {" 250 x\r\n", 8},
      {"HTTP/1.1 400 Bad Request\r\n", 26},
      {"250-a\r\n251 b\r\n", 14},   // RFC 5321 4.2.1: one code for every line
      {"250-a\r\n550-b\r\n250 c\r\n", 14},
      {"250-a\r\n\r\n", 9},
      {"250-a\r\nb\r\n", 10},
      {"250 ok\r\nbad\r\n250 ok\r\n", 13, {{250, "", "ok"}}},
  };
  for (const auto& c : cases) {
    check_all_splits(c.input, failed(reply_error::malformed, c.consumed, c.before));
  }
}

TEST_CASE("smtp_reply_parser: RFC 5321 4.5.3.1.5 line limit of 512 octets with CRLF") {
  const std::size_t max = missive::limits::smtp_reply_line;
  const std::string longest = "250 " + std::string(max - 6, 'x');  // + CRLF is 512
  check_all_splits(longest + "\r\n", replies({{250, "", std::string(max - 6, 'x')}}, max));
  // A bare LF counts as one octet: 511 octets before it still fit.
  check_all_splits(longest + "y\n", replies({{250, "", std::string(max - 6, 'x') + "y"}}, max));
  // One more octet is too long, found as soon as 512 octets arrived with no line end.
  check_all_splits(longest + "y\r\n", failed(reply_error::line_too_long, max));
  check_all_splits(longest + "yz\n", failed(reply_error::line_too_long, max));
  // A 10,000-octet line is refused after 512 octets, not read to its end.
  check_all_splits("250 " + std::string(10'000, 'x') + "\r\n",
                   failed(reply_error::line_too_long, max));
  // So is a line that never ends, and a long continuation line of a reply.
  const std::string endless(100'000, 'x');
  missive::smtp_reply_parser parser;
  CHECK(parser.feed(endless) == max);
  CHECK(parser.error() == reply_error::line_too_long);
  CHECK(parser.feed(endless) == 0);
  check_all_splits("250-ok\r\n250-" + std::string(600, 'x') + "\r\n250 end\r\n",
                   failed(reply_error::line_too_long, 8 + max));
}

TEST_CASE("smtp_reply_parser: at most max_lines lines, so an endless reply stops") {
  std::string hundred;
  for (int i = 0; i < 99; ++i) hundred += "250-x\r\n";
  hundred += "250 x\r\n";
  std::string text;
  for (int i = 0; i < 99; ++i) text += "x\n";
  text += "x";
  check_all_splits(hundred, replies({{250, "", text}}, hundred.size()));

  // 101 lines: refused when line 100 turns out not to be the last.
  std::string hundred_one;
  for (int i = 0; i < 100; ++i) hundred_one += "250-x\r\n";
  hundred_one += "250 x\r\n";
  check_all_splits(hundred_one, failed(reply_error::too_many_lines, 100 * 7));

  // Endless: stops after max_lines lines, whatever else is buffered.
  std::string endless;
  for (int i = 0; i < 100'000; ++i) endless += "250-x\r\n";
  missive::smtp_reply_parser parser;
  CHECK(parser.feed(endless) == 100 * 7);
  CHECK(parser.error() == reply_error::too_many_lines);
  CHECK_FALSE(parser.done());

  // A smaller limit.
  check_all_splits("250-a\r\n250 b\r\n", replies({{250, "", "a\nb"}}, 14), 2);
  check_all_splits("250-a\r\n250-b\r\n250 c\r\n", failed(reply_error::too_many_lines, 14), 2);
  check_all_splits("250 a\r\n250 b\r\n", replies({{250, "", "a"}, {250, "", "b"}}, 14), 1);
}

TEST_CASE("smtp_reply_parser: once failed, it stays failed") {
  missive::smtp_reply_parser parser;
  CHECK(parser.feed("bad\r\n250 ok\r\n") == 5);
  CHECK(parser.error() == reply_error::malformed);
  parser.next();
  CHECK(parser.error() == reply_error::malformed);
  CHECK(parser.feed("250 ok\r\n") == 0);
  CHECK_FALSE(parser.done());
}

TEST_CASE("smtp_reply_parser: next() clears the reply for the next one") {
  missive::smtp_reply_parser parser;
  const std::string_view two = "550-5.1.1 a\r\n550 5.1.1 b\r\n250 plain\r\n";
  auto first = parser.feed(two);
  REQUIRE(parser.done());
  CHECK(same_reply(parser.reply(), {550, "5.1.1", "a\nb"}));
  parser.next();
  CHECK(parser.feed(two.substr(first)) == two.size() - first);
  REQUIRE(parser.done());
  CHECK(same_reply(parser.reply(), {250, "", "plain"}));
}
