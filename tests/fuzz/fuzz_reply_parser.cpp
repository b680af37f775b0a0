// Fuzzes the SMTP reply parser (common/smtp_reply_parser.hpp), which reads what a possibly
// hostile next hop says: it must never buffer more than one reply line (RFC 5321 4.5.3.1.5),
// never claim more octets than it was given, and read the same replies however the bytes
// are cut into reads.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "limits.hpp"
#include "smtp_reply_parser.hpp"

using namespace missive;
using namespace missive::fuzz;

namespace {

// Everything the parser read from one input.
struct outcome {
  std::vector<smtp_reply> replies;
  reply_error error = reply_error::none;
  std::size_t consumed = 0;

  bool operator==(const outcome& other) const {
    auto same = [](const smtp_reply& a, const smtp_reply& b) {
      return a.code == b.code && a.enhanced == b.enhanced && a.text == b.text;
    };
    return error == other.error && consumed == other.consumed &&
           std::equal(replies.begin(), replies.end(), other.replies.begin(), other.replies.end(),
                      same);
  }
};

// Whether `code` is an RFC 3463 status code as the parser takes them: "c.s.d", class 2, 4 or
// 5, subject and detail of one to three digits.
bool is_enhanced(std::string_view code) {
  auto digits = [&](std::size_t& at) {
    std::size_t start = at;
    while (at < code.size() && code[at] >= '0' && code[at] <= '9') ++at;
    return at - start >= 1 && at - start <= 3;
  };
  if (code.size() < 5 || (code[0] != '2' && code[0] != '4' && code[0] != '5') || code[1] != '.')
    return false;
  std::size_t at = 2;
  if (!digits(at) || at >= code.size() || code[at] != '.') return false;
  ++at;
  return digits(at) && at == code.size();
}

// Reads replies from `pieces` as the SMTP client does: feed, take a finished reply, go on
// with what is left; stop at the first error.
template <typename Pieces>
outcome run(std::size_t max_lines, const Pieces& pieces) {
  smtp_reply_parser parser(max_lines);
  outcome result;
  std::size_t line_octets = 0;  // octets consumed since the last LF: what may be buffered
  for (std::string_view piece : pieces) {
    while (!piece.empty() && parser.error() == reply_error::none) {
      std::size_t consumed = parser.feed(piece);
      FUZZ_CHECK(consumed <= piece.size());
      auto taken = piece.substr(0, consumed);
      auto last_lf = taken.rfind('\n');
      line_octets = last_lf == std::string_view::npos ? line_octets + consumed
                                                      : consumed - last_lf - 1;
      result.consumed += consumed;
      piece.remove_prefix(consumed);
      if (parser.error() != reply_error::none) break;
      // The partial line held over is always less than a whole line's limit.
      FUZZ_CHECK(line_octets < limits::smtp_reply_line);
      if (!parser.done()) {
        FUZZ_CHECK(piece.empty());  // a reply not yet complete takes all it is given
        break;
      }
      // A reply ends with its line's LF.
      FUZZ_CHECK(line_octets == 0 && consumed > 0);
      const smtp_reply& reply = parser.reply();
      FUZZ_CHECK(reply.code >= 200 && reply.code <= 599);
      FUZZ_CHECK(reply.enhanced.empty() || is_enhanced(reply.enhanced));
      auto lines = std::size_t(std::count(reply.text.begin(), reply.text.end(), '\n')) + 1;
      FUZZ_CHECK(lines <= max_lines);
      FUZZ_CHECK(reply.text.size() < lines * limits::smtp_reply_line);
      result.replies.push_back(reply);
      parser.next();
    }
    if (parser.error() != reply_error::none) break;
  }
  result.error = parser.error();
  if (result.error != reply_error::none) {
    // Not even a too-long line is taken beyond its limit, and a failed parser takes nothing.
    FUZZ_CHECK(line_octets <= limits::smtp_reply_line);
    FUZZ_CHECK(parser.feed("250 ok\r\n") == 0);
    FUZZ_CHECK(parser.error() == result.error);
  }
  return result;
}

void check(std::string_view input, std::size_t max_lines) {
  const std::string_view whole_pieces[] = {input};
  const outcome whole = run(max_lines, whole_pieces);
  FUZZ_CHECK(whole.consumed <= input.size());
  FUZZ_CHECK(whole.error != reply_error::none || whole.consumed == input.size());

  const std::size_t at = split_offset(input);
  const std::string_view split_pieces[] = {input.substr(0, at), input.substr(at)};
  FUZZ_CHECK(run(max_lines, split_pieces) == whole);
  if (input.size() <= 4096) {
    std::vector<std::string_view> octets;
    for (std::size_t i = 0; i < input.size(); ++i) octets.push_back(input.substr(i, 1));
    FUZZ_CHECK(run(max_lines, octets) == whole);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = as_text(data, size);
  check(input, 100);  // the client's default
  check(input, 3);    // so too_many_lines is reached by small inputs
  return 0;
}
