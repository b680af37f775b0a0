// SMTP replies (RFC 5321 4.2) with enhanced status codes (RFC 3463, RFC 2034), formatted
// for the wire without I/O.
#pragma once

#include <string>
#include <string_view>

namespace missive {

// A reply: a three-digit code, an optional enhanced status code such as "2.1.0", and text
// whose lines are separated by '\n'.
struct smtp_reply {
  int code = 250;
  std::string enhanced;
  std::string text;
};

// Appends the reply to `out` as wire lines: "250-first\r\n...250 last\r\n", with the
// enhanced code after the reply code on every line when it is set (RFC 2034 4).
// Lines are never longer than limits::smtp_reply_line; longer text is cut.
void append_reply(std::string& out, const smtp_reply& reply);

// Returns the reply as wire lines (see append_reply).
std::string format_reply(const smtp_reply& reply);

}  // namespace missive
