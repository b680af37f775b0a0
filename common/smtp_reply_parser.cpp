// Reading SMTP replies (RFC 5321 4.2): a byte-fed parser with limits.
//
// A reply is one or more lines "DDD-text" ending with a line "DDD text" or "DDD"; every line
// carries the same code (4.2.1). The parser accepts a bare LF as a line end, since it only
// reads what a server says and nothing it reads is passed on as a line of mail.
//
// Line length is counted as sent, the line ending included, so a reply line may hold at most
// limits::smtp_reply_line - 2 octets before its CRLF (4.5.3.1.5). A line is refused as soon as
// it is known to be too long, without waiting for its end, so an endless line costs no more
// than one line's buffer; a reply whose line `max_lines` is still not the last is refused at
// once, so an endless reply stops too.
//
// Enhanced status codes (RFC 2034, RFC 3463): "class.subject.detail" at the start of a line's
// text, followed by a space or the line end, class 2, 4 or 5, subject and detail of one to
// three digits. It is taken out of the text only when every line of the reply starts with the
// same one; otherwise (an EHLO reply, a server that puts it on some lines only) the text is
// left as sent and `enhanced` is empty.
#include "smtp_reply_parser.hpp"

#include <algorithm>
#include <cstring>

#include "ascii.hpp"
#include "limits.hpp"

namespace missive {
namespace {

// The length of the run of at most three digits at `pos`, or 0.
std::size_t digit_run(std::string_view text, std::size_t pos) {
  std::size_t n = 0;
  while (pos + n < text.size() && n < 3 && is_digit(text[pos + n])) ++n;
  return n;
}

// The length of the RFC 3463 status code at the start of `text` when a space or the end
// follows it, else 0.
std::size_t enhanced_code_length(std::string_view text) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') {
    return 0;
  }
  std::size_t subject = digit_run(text, 2);
  if (subject == 0 || 2 + subject >= text.size() || text[2 + subject] != '.') return 0;
  std::size_t detail_start = 3 + subject;
  std::size_t detail = digit_run(text, detail_start);
  std::size_t end = detail_start + detail;
  if (detail == 0 || (end < text.size() && text[end] != ' ')) return 0;
  return end;
}

// Whether `line` starts with a reply code: three digits, the first 2 to 5 (RFC 5321 4.2.1;
// 1yz replies are not used in SMTP).
bool has_reply_code(std::string_view line) {
  return line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && is_digit(line[1]) &&
         is_digit(line[2]);
}

}  // namespace

smtp_reply_parser::smtp_reply_parser(std::size_t max_lines) : max_lines_(max_lines) {
  partial_.reserve(limits::smtp_reply_line);
}

std::size_t smtp_reply_parser::feed(std::string_view bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size() && !done_ && error_ == reply_error::none) {
    std::string_view rest = bytes.substr(pos);
    // partial_ never reaches the limit, so at least the line's last octet still fits.
    std::size_t room = limits::smtp_reply_line - partial_.size();
    std::size_t search = std::min(rest.size(), room);
    const void* lf = std::memchr(rest.data(), '\n', search);
    if (lf == nullptr) {
      if (search == room) {
        // `room` octets without an LF: with its line ending the line is over the limit.
        pos += search;
        fail(reply_error::line_too_long);
        break;
      }
      partial_.append(rest);
      pos = bytes.size();
      break;
    }
    std::size_t length = std::size_t(static_cast<const char*>(lf) - rest.data());
    pos += length + 1;
    std::string_view line = rest.substr(0, length);
    if (!partial_.empty()) {
      partial_.append(line);
      line = partial_;
    }
    if (line.ends_with('\r')) line.remove_suffix(1);
    take_line(line);
    partial_.clear();
  }
  return pos;
}

void smtp_reply_parser::take_line(std::string_view line) {
  if (!has_reply_code(line) || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
    fail(reply_error::malformed);
    return;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (lines_ == 0) {
    reply_.code = code;
  } else if (code != reply_.code) {
    fail(reply_error::malformed);  // RFC 5321 4.2.1: every line carries the same code
    return;
  }
  const bool last = line.size() == 3 || line[3] == ' ';
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  std::string_view enhanced = text.substr(0, enhanced_code_length(text));
  if (lines_ == 0) {
    reply_.enhanced.assign(enhanced);
  } else {
    reply_.text += '\n';
    if (enhanced != reply_.enhanced) same_enhanced_ = false;
  }
  reply_.text.append(text);
  ++lines_;
  if (last) {
    finish();
  } else if (lines_ >= max_lines_) {
    fail(reply_error::too_many_lines);  // this line was not the last, so more would follow
  }
}

void smtp_reply_parser::finish() {
  done_ = true;
  if (reply_.enhanced.empty()) return;
  if (!same_enhanced_) {
    reply_.enhanced.clear();
    return;
  }
  // Every line starts with the code: drop it and the space after it, in place.
  std::string& text = reply_.text;
  const std::size_t skip = reply_.enhanced.size();
  std::size_t out = 0;
  std::size_t in = 0;
  for (;;) {
    in += skip;
    if (in < text.size() && text[in] == ' ') ++in;
    std::size_t end = std::min(text.find('\n', in), text.size());
    std::memmove(text.data() + out, text.data() + in, end - in);
    out += end - in;
    if (end == text.size()) break;
    text[out++] = '\n';
    in = end + 1;
  }
  text.resize(out);
}

void smtp_reply_parser::fail(reply_error error) {
  if (error_ == reply_error::none) error_ = error;
}

bool smtp_reply_parser::done() const { return done_; }

reply_error smtp_reply_parser::error() const { return error_; }

const smtp_reply& smtp_reply_parser::reply() const { return reply_; }

void smtp_reply_parser::next() {
  // Capacity is kept: the next reply is read without allocating again.
  reply_.code = 0;
  reply_.enhanced.clear();
  reply_.text.clear();
  lines_ = 0;
  done_ = false;
  same_enhanced_ = true;
}

}  // namespace missive
