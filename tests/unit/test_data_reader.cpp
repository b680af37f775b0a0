// Unit tests for the SMTP DATA decoder (RFC 5321 4.1.1.4, 4.5.2, 4.5.3.1.6), fed whole,
// split at every byte offset and byte by byte.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "data_reader.hpp"
#include "dot_stuffing.hpp"
#include "limits.hpp"

using namespace std::literals;
using missive::data_error;

namespace {

constexpr std::size_t default_max = 1 << 20;

// What a reader made of an input.
struct outcome {
  std::size_t consumed = 0;
  bool done = false;
  data_error error = data_error::none;
  std::string message;
  std::size_t size = 0;
};

outcome read_pieces(const std::vector<std::string_view>& pieces, std::size_t max_size) {
  missive::data_reader reader(max_size);
  outcome result;
  for (auto piece : pieces) {
    auto consumed = reader.feed(piece);
    CHECK(consumed <= piece.size());
    // Fewer octets than given are consumed only when the end was reached.
    if (consumed < piece.size()) CHECK(reader.done());
    result.consumed += consumed;
  }
  result.done = reader.done();
  result.error = reader.error();
  result.message = reader.message();
  result.size = reader.size();
  return result;
}

void check_same(const outcome& got, const outcome& expected) {
  CHECK(got.consumed == expected.consumed);
  CHECK(got.done == expected.done);
  CHECK(got.error == expected.error);
  CHECK(got.message == expected.message);
  CHECK(got.size == expected.size);
}

// Feeds `input` whole, in two pieces split at every offset, in three pieces, and byte by
// byte, and checks every way gives `expected`.
void check_all_splits(std::string_view input, const outcome& expected,
                      std::size_t max_size = default_max) {
  INFO("input: ", std::string(input));
  check_same(read_pieces({input}, max_size), expected);
  for (std::size_t i = 0; i <= input.size(); ++i) {
    INFO("split at ", i);
    check_same(read_pieces({input.substr(0, i), input.substr(i)}, max_size), expected);
    if (i + 3 <= input.size()) {
      check_same(read_pieces({input.substr(0, i), input.substr(i, 3), input.substr(i + 3)},
                             max_size),
                 expected);
    }
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  INFO("byte by byte");
  check_same(read_pieces(bytes, max_size), expected);
}

struct reader_case {
  std::string input;
  outcome expected;
};

}  // namespace

TEST_CASE("data_reader: well-formed data") {
  const std::vector<reader_case> cases = {
      {".\r\n", {3, true, data_error::none, "", 0}},
      {"abc\r\n.\r\n", {8, true, data_error::none, "abc\r\n", 5}},
      {"abc\r\n.\r\nMAIL FROM:<a@b.example>\r\n", {8, true, data_error::none, "abc\r\n", 5}},
      {"..\r\n.\r\n", {7, true, data_error::none, ".\r\n", 3}},
      {"...\r\n.\r\n", {8, true, data_error::none, "..\r\n", 4}},
      {"..x\r\n.\r\n", {8, true, data_error::none, ".x\r\n", 4}},
      {".x\r\n.\r\n", {7, true, data_error::none, "x\r\n", 3}},
      {"a.\r\n.b\r\n.\r\n", {11, true, data_error::none, "a.\r\nb\r\n", 7}},
      {"\r\n.\r\n", {5, true, data_error::none, "\r\n", 2}},
      {"\r\n\r\n.\r\n", {7, true, data_error::none, "\r\n\r\n", 4}},
      {"Subject: x\r\n\r\nbody\r\n.\r\n",
       {23, true, data_error::none, "Subject: x\r\n\r\nbody\r\n", 20}},
      {"\x80\xff\xc3\xa9\r\n.\r\n", {9, true, data_error::none, "\x80\xff\xc3\xa9\r\n", 6}},
      {"\t \x01\x7f\r\n.\r\n", {9, true, data_error::none, "\t \x01\x7f\r\n", 6}},
      // Not finished yet: everything is consumed and kept.
      {"", {0, false, data_error::none, "", 0}},
      {"abc", {3, false, data_error::none, "abc", 3}},
      {"abc\r\n", {5, false, data_error::none, "abc\r\n", 5}},
      {"abc\r\n.", {6, false, data_error::none, "abc\r\n", 5}},
      {"abc\r\n.\r", {7, false, data_error::none, "abc\r\n", 5}},
      {"abc\r\n..", {7, false, data_error::none, "abc\r\n.", 6}},
      {"abc\r", {4, false, data_error::none, "abc", 3}},
  };
  for (const auto& c : cases) check_all_splits(c.input, c.expected);
}

TEST_CASE("data_reader: SMTP smuggling variants never end the data") {
  // Each variant stands where CRLF "." CRLF would be; a smuggled command follows, and only
  // the final real CRLF "." CRLF ends the data.
  const std::vector<std::string> variants = {
      "\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r", "\r.\r\n", "\r\n.\r", "\r\n.\r\r\n", "\r\r\n",
      "\n\r\n", "\n.\r\r\n", "\r\n.\n\r\n", "\r\n.\r.\r\n", "\r\n. \r\n",
  };
  for (const auto& variant : variants) {
    std::string input = "a" + variant + "MAIL FROM:<evil@x.test>\r\n.\r\n";
    INFO("variant: ", variant);
    missive::data_reader reader(default_max);
    std::size_t consumed = reader.feed(input);
    CHECK(consumed == input.size());
    CHECK(reader.done());
    bool clean = variant == "\r\n. \r\n";  // a dot then a space is an ordinary line
    CHECK(reader.error() == (clean ? data_error::none : data_error::bare_line_ending));
    check_all_splits(input, {input.size(), true, reader.error(), reader.message(),
                             reader.message().size()});
  }
}

TEST_CASE("data_reader: bare line endings are refused and resynchronised on CRLF") {
  const auto bare = data_error::bare_line_ending;
  const std::vector<reader_case> cases = {
      // The LF is bare, so the "." after it is not at a line start.
      {"abc\n.\r\n", {7, false, bare, "abc\n.\r\n", 7}},
      {"abc\n.\r\nmore\r\n.\r\n", {16, true, bare, "abc\n.\r\nmore\r\n", 13}},
      {"\n.\r\n.\r\n", {7, true, bare, "\n.\r\n", 4}},
      {"a\rb\r\n.\r\n", {8, true, bare, "a\rb\r\n", 5}},
      {"\r.\r\n.\r\n", {7, true, bare, "\r.\r\n", 4}},
      // A bare CR after the line "." : the line goes on, the CR LF after it ends it.
      {".\r.\r\n.\r\n", {8, true, bare, "\r.\r\n", 4}},
      {".\rx\r\n.\r\n", {8, true, bare, "\rx\r\n", 4}},
      // In "x\r\r\n" the first CR is bare and the CR LF after it is a real line ending, so
      // the "." line that follows does end the data (a sender that dot-stuffs by CRLF
      // lines would have stuffed it), and the message is refused.
      {"x\r\r\n.\r\nQUIT\r\n", {7, true, bare, "x\r\r\n", 4}},
      {"\r\r\n.\r\n", {6, true, bare, "\r\r\n", 3}},
      {"a\n\n\n", {4, false, bare, "a\n\n\n", 4}},
      {"a\r\r\r", {4, false, bare, "a\r\r", 3}},
  };
  for (const auto& c : cases) check_all_splits(c.input, c.expected);
}

TEST_CASE("data_reader: NUL bytes") {
  const std::vector<reader_case> cases = {
      {"a\0b\r\n.\r\n"s, {8, true, data_error::nul_byte, "a\0b\r\n"s, 5}},
      {"\0\r\n.\r\n"s, {6, true, data_error::nul_byte, "\0\r\n"s, 3}},
      {"a\r\n\0.\r\n.\r\n"s, {10, true, data_error::nul_byte, "a\r\n\0.\r\n"s, 7}},
      {"a\r\n.\0\r\n.\r\n"s, {10, true, data_error::nul_byte, "a\r\n\0\r\n"s, 6}},
      // The first problem is the one kept.
      {"a\nb\0\r\n.\r\n"s, {9, true, data_error::bare_line_ending, "a\nb\0\r\n"s, 6}},
      {"a\0b\n\r\n.\r\n"s, {9, true, data_error::nul_byte, "a\0b\n\r\n"s, 6}},
  };
  for (const auto& c : cases) check_all_splits(c.input, c.expected);
}

TEST_CASE("data_reader: RFC 5321 4.5.3.1.6 line length counts octets as sent") {
  const std::size_t max_text = missive::limits::smtp_text_line - 2;  // 998
  struct length_case {
    std::string line;  // without CRLF, as sent
    data_error error;
    std::string kept;  // the line after unstuffing
  };
  const std::vector<length_case> cases = {
      {std::string(max_text - 1, 'x'), data_error::none, std::string(max_text - 1, 'x')},
      {std::string(max_text, 'x'), data_error::none, std::string(max_text, 'x')},
      {std::string(max_text + 1, 'x'), data_error::line_too_long,
       std::string(max_text + 1, 'x')},
      {"." + std::string(max_text - 1, 'x'), data_error::none, std::string(max_text - 1, 'x')},
      {"." + std::string(max_text, 'x'), data_error::line_too_long, std::string(max_text, 'x')},
      {".." + std::string(max_text - 2, 'x'), data_error::none,
       "." + std::string(max_text - 2, 'x')},
      {".." + std::string(max_text - 1, 'x'), data_error::line_too_long,
       "." + std::string(max_text - 1, 'x')},
      {std::string(5000, 'x'), data_error::line_too_long, std::string(5000, 'x')},
  };
  for (const auto& c : cases) {
    INFO("line octets with CRLF: ", c.line.size() + 2);
    // Long lines before and after make sure the count starts again at each line.
    std::string before = std::string(max_text, 'b') + "\r\n";
    std::string after = std::string(max_text, 'a') + "\r\n";
    std::string input = before + c.line + "\r\n" + after + ".\r\n";
    std::string message = before + c.kept + "\r\n" + after;
    missive::data_reader reader(default_max);
    CHECK(reader.feed(input) == input.size());
    CHECK(reader.done());
    CHECK(reader.error() == c.error);
    CHECK(reader.message() == message);
    CHECK(reader.size() == message.size());
  }
  // The split-everywhere run on the boundary cases.
  std::string at_limit = std::string(max_text, 'x') + "\r\n.\r\n";
  check_all_splits(at_limit, {at_limit.size(), true, data_error::none,
                              std::string(max_text, 'x') + "\r\n", max_text + 2});
  std::string over_limit = "." + std::string(max_text, 'x') + "\r\n.\r\n";
  check_all_splits(over_limit, {over_limit.size(), true, data_error::line_too_long,
                                std::string(max_text, 'x') + "\r\n", max_text + 2});
}

TEST_CASE("data_reader: max_size") {
  // Exactly the maximum.
  check_all_splits("01234567\r\n.\r\n", {13, true, data_error::none, "01234567\r\n", 10}, 10);
  // One octet over: the message is cut at max_size, the size counts on, the end is found.
  check_all_splits("012345678\r\n.\r\n", {14, true, data_error::too_big, "012345678\r", 11},
                   10);
  check_all_splits("0123456789\r\n..\r\nmore\r\n.\r\n",
                   {25, true, data_error::too_big, "0123456789", 21}, 10);
  check_all_splits(".\r\n", {3, true, data_error::none, "", 0}, 0);
  check_all_splits("a\r\n.\r\n", {6, true, data_error::too_big, "", 3}, 0);
  // A later problem does not replace too_big.
  check_all_splits("abcd\n\r\n.\r\n", {10, true, data_error::too_big, "ab", 7}, 2);
}

TEST_CASE("data_reader: feed after the end consumes nothing") {
  missive::data_reader reader(default_max);
  CHECK(reader.feed("x\r\n.\r\nNOOP\r\n") == 6);
  CHECK(reader.done());
  CHECK(reader.feed("NOOP\r\n") == 0);
  CHECK(reader.feed("") == 0);
  CHECK(reader.message() == "x\r\n");
  CHECK(reader.error() == data_error::none);
}

TEST_CASE("data_reader: a large message in big chunks") {
  std::string line = std::string(70, 'm') + "\r\n";
  std::string text;
  while (text.size() < (10u << 20)) text += (text.size() / 72) % 5 == 0 ? "." + line : line;
  std::string wire;
  missive::append_dot_stuffed(wire, text);
  missive::data_reader reader(32u << 20);
  std::size_t consumed = 0;
  for (std::size_t i = 0; i < wire.size(); i += 65536) {
    consumed += reader.feed(std::string_view(wire).substr(i, 65536));
  }
  CHECK(consumed == wire.size());
  CHECK(reader.done());
  CHECK(reader.error() == data_error::none);
  CHECK(reader.message() == text);
  CHECK(reader.size() == text.size());
}

TEST_CASE("data_reader: the first limit crossed is reported however the bytes arrive") {
  // Found by fuzzing: a long line that also overflows the size limit. Octet by octet the
  // line limit (octet 999) comes before the size limit (octet 1000).
  std::string input(1993, 'b');
  input += "\r\n.\r\n";
  missive::data_reader whole(999);
  whole.feed(input);
  missive::data_reader octets(999);
  for (char c : input) octets.feed(std::string_view(&c, 1));
  CHECK(whole.error() == missive::data_error::line_too_long);
  CHECK(octets.error() == missive::data_error::line_too_long);
}
