// The SMTP DATA decoder (RFC 5321 4.1.1.4, 4.5.2): a byte-fed state machine that finds the
// end of the data, undoes dot-stuffing, and enforces line endings and limits. No I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace missive {

// Why message data was refused. The first problem seen is kept; reading goes on to the
// terminating CRLF.CRLF regardless, so the session stays in step with the client.
enum class data_error {
  none,
  bare_line_ending,  // CR not followed by LF, or LF not preceded by CR (SMTP smuggling)
  nul_byte,          // NUL is not allowed in 8BITMIME text (RFC 6152 2)
  line_too_long,     // more than limits::smtp_text_line octets incl. CRLF (RFC 5321 4.5.3.1.6)
  too_big,           // more than max_size octets after unstuffing (RFC 1870)
};

// Decodes the data that follows a 354 reply. The data ends only at CRLF "." CRLF; the CRLF
// that ended the DATA command counts as the first CRLF, so ".\r\n" at once is an empty message.
class data_reader {
 public:
  // A reader that keeps at most `max_size` octets of message; more is counted and discarded.
  explicit data_reader(std::size_t max_size);

  // Makes room for a message of about `declared_size` octets (RFC 1870 SIZE), so a large
  // message is not copied again and again while it grows. Untouched room costs no memory.
  void expect(std::size_t declared_size);

  // Consumes bytes up to and including the terminating ".\r\n" and returns how many it
  // consumed (fewer than given only when the end was reached).
  std::size_t feed(std::string_view bytes);

  // Whether the terminating CRLF.CRLF has been consumed.
  bool done() const { return state_ == state::done; }
  // The first problem found in the data, or data_error::none.
  data_error error() const { return error_; }
  // The message as sent, dot-stuffing undone, every line ending in CRLF; without the final ".".
  std::string& message() { return message_; }
  // Octets of message seen so far, including those discarded beyond max_size.
  std::size_t size() const { return size_; }

 private:
  enum class state { line_start, dot_at_line_start, in_line, cr_seen, dot_cr_seen, done };

  // Takes the run of ordinary octets at the start of `bytes` while in a line; returns its length.
  std::size_t take_run(std::string_view bytes);
  // Advances the state machine by one octet.
  void step(char c);
  // Handles one octet in the middle of a line.
  void step_in_line(char c);
  // Adds octets to the message (up to max_size) and to the size.
  void add(std::string_view text);
  // Counts octets of the current line as sent, refusing lines that are too long.
  void count_line(std::size_t octets);
  // Records a problem unless an earlier one was recorded.
  void fail(data_error error);

  std::size_t max_size_;
  state state_ = state::line_start;
  data_error error_ = data_error::none;
  std::string message_;
  std::size_t size_ = 0;
  // Octets of the current line as sent (a stuffing dot included), without its CRLF.
  std::size_t line_length_ = 0;
};

}  // namespace missive
