// The SMTP DATA decoder (RFC 5321 4.1.1.4, 4.5.2): a byte-fed state machine.
//
// Line endings: only CR immediately followed by LF ends a line. A CR not followed by LF
// and an LF not preceded by CR are refused (bare_line_ending) and are kept as ordinary
// octets of the line, never taken as a line end; so after "abc\n" a "." is not at a line
// start, and only a real CRLF "." CRLF ends the data (the defence against SMTP smuggling).
// In "x\r\r\n" the first CR is bare and the CR LF after it is a real line ending.
//
// Line length: counted as sent on the wire, the stuffing dot included, so a line may hold
// at most limits::smtp_text_line - 2 octets before its CRLF (RFC 5321 4.5.3.1.6).
#include "data_reader.hpp"

#include <algorithm>
#include <cstring>

#include "limits.hpp"

namespace missive {
namespace {

constexpr std::size_t max_line_octets = limits::smtp_text_line - 2;  // without the CRLF
// Room for a typical message when its size was not declared; more is added as it grows.
constexpr std::size_t initial_reserve = 4 * 1024;

// CR, LF and NUL each need a decision; every other octet is copied in runs.
bool is_special(char c) {
  return static_cast<unsigned char>(c) <= '\r' && (c == '\r' || c == '\n' || c == '\0');
}

// The offset of the first `c` in bytes[0, limit), or `limit`.
std::size_t first_of(std::string_view bytes, char c, std::size_t limit) {
  const void* found = std::memchr(bytes.data(), c, limit);
  return found ? std::size_t(static_cast<const char*>(found) - bytes.data()) : limit;
}

}  // namespace

data_reader::data_reader(std::size_t max_size) : max_size_(max_size) {
  message_.reserve(std::min(max_size, initial_reserve));
}

void data_reader::expect(std::size_t declared_size) {
  // A little over the declared size: the count is the client's estimate (RFC 1870 3).
  std::size_t room = declared_size + declared_size / 16;
  message_.reserve(std::min(room, max_size_));
}

std::size_t data_reader::feed(std::string_view bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size() && state_ != state::done) {
    // An ordinary first octet starts the run of the line at once.
    if (state_ == state::line_start && bytes[pos] != '.' && !is_special(bytes[pos])) {
      state_ = state::in_line;
    }
    if (state_ == state::in_line) {
      pos += take_run(bytes.substr(pos));
      if (pos == bytes.size()) break;
    }
    step(bytes[pos++]);
  }
  return pos;
}

std::size_t data_reader::take_run(std::string_view bytes) {
  std::size_t run = 0;
  if (error_ == data_error::none) {
    // Fast path, vectorised: the CR that ends the line, then any LF or NUL before it. An
    // LF or NUL found is an error, so the slow path below is taken from then on and a
    // flood of them cannot make each run rescan the input for a CR.
    run = first_of(bytes, '\r', bytes.size());
    run = first_of(bytes, '\n', run);
    run = first_of(bytes, '\0', run);
  } else {
    while (run < bytes.size() && !is_special(bytes[run])) ++run;
  }
  // The first problem seen is kept, as if the run came octet by octet: the line limit wins
  // only when the run crosses it strictly before the size limit (at the same octet the size
  // is checked first, as in step_in_line).
  std::size_t line_room = line_length_ < max_line_octets ? max_line_octets - line_length_ : 0;
  std::size_t size_room = size_ < max_size_ ? max_size_ - size_ : 0;
  if (run > line_room && line_room < size_room) {
    count_line(run);
    add(bytes.substr(0, run));
  } else {
    add(bytes.substr(0, run));
    count_line(run);
  }
  return run;
}

void data_reader::step(char c) {
  switch (state_) {
    case state::line_start:
      if (c == '.') {
        // RFC 5321 4.5.2: the first dot of a line is removed (it was doubled by the sender).
        count_line(1);
        state_ = state::dot_at_line_start;
      } else {
        step_in_line(c);
      }
      break;
    case state::dot_at_line_start:
      if (c == '\r') state_ = state::dot_cr_seen;
      else step_in_line(c);
      break;
    case state::dot_cr_seen:
    case state::cr_seen:
      if (c == '\n') {
        if (state_ == state::dot_cr_seen) {
          state_ = state::done;
          return;
        }
        add("\r\n");
        line_length_ = 0;
        state_ = state::line_start;
        return;
      }
      fail(data_error::bare_line_ending);
      add("\r");
      count_line(1);
      step_in_line(c);
      break;
    case state::in_line:
      step_in_line(c);
      break;
    case state::done:
      break;
  }
}

void data_reader::step_in_line(char c) {
  state_ = state::in_line;
  if (c == '\r') {
    state_ = state::cr_seen;  // the CR is added once we know whether LF follows
    return;
  }
  if (c == '\n') fail(data_error::bare_line_ending);
  if (c == '\0') fail(data_error::nul_byte);  // RFC 6152 2
  add(std::string_view(&c, 1));
  count_line(1);
}

void data_reader::add(std::string_view text) {
  size_ += text.size();
  if (message_.size() < max_size_) {
    message_.append(text.substr(0, max_size_ - message_.size()));
  }
  if (size_ > max_size_) fail(data_error::too_big);
}

void data_reader::count_line(std::size_t octets) {
  line_length_ += octets;
  if (line_length_ > max_line_octets) fail(data_error::line_too_long);
}

void data_reader::fail(data_error error) {
  if (error_ == data_error::none) error_ = error;
}

}  // namespace missive
