// Dot-stuffing for sending multi-line data (RFC 5321 4.5.2, RFC 1939 3). No I/O.
#pragma once

#include <string>
#include <string_view>

namespace missive {

// Appends `text` to `out` dot-stuffed: a '.' is doubled at the start of every line. A text
// that does not end in CRLF gets one, and the terminating ".\r\n" is appended. Line endings
// in `text` are expected to be CRLF already and are copied as they are.
void append_dot_stuffed(std::string& out, std::string_view text);

}  // namespace missive
