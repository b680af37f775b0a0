// Reading SMTP replies from a server (RFC 5321 4.2), fed bytes, with limits so a hostile
// next hop cannot make us buffer without end. No I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "smtp_reply.hpp"

namespace missive {

// Why a reply could not be read.
enum class reply_error {
  none,
  line_too_long,    // a line over limits::smtp_reply_line octets (RFC 5321 4.5.3.1.5)
  too_many_lines,   // more lines than max_lines in one reply
  malformed,        // not "DDD" followed by SP, "-" or the line end; or codes differ between lines
};

// Assembles one reply at a time from the bytes a server sends.
class smtp_reply_parser {
 public:
  // A parser that refuses replies of more than `max_lines` lines.
  explicit smtp_reply_parser(std::size_t max_lines = 100);

  // Consumes bytes up to the end of the next complete reply and returns how many; fewer than
  // given only when a reply was completed (or an error found). Lines end in CRLF; a bare LF
  // is accepted as a line end too (lenient in what we accept from servers).
  std::size_t feed(std::string_view bytes);

  // Whether a complete reply is ready.
  bool done() const;
  // The problem found, if any; once set, the parser stays failed.
  reply_error error() const;
  // The reply read: its code; `enhanced` when every line starts with the same RFC 3463 code
  // ("2.1.0"), else empty; text lines (without code and enhanced code) joined with '\n'.
  const smtp_reply& reply() const;
  // Clears the finished reply so the next one can be read.
  void next();

 private:
  // Takes one whole line, without its line ending.
  void take_line(std::string_view line);
  // Ends the reply: keeps the enhanced code only if every line carried the same one.
  void finish();
  // Records the problem; the parser stays failed.
  void fail(reply_error error);

  std::size_t max_lines_;
  std::string partial_;          // the start of a line whose end has not arrived yet
  std::size_t lines_ = 0;        // lines of the current reply taken so far
  bool done_ = false;
  reply_error error_ = reply_error::none;
  smtp_reply reply_;
  bool same_enhanced_ = true;    // every line so far started with reply_.enhanced
};

}  // namespace missive
