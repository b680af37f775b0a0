// Dot-stuffing for sending multi-line data (RFC 5321 4.5.2, RFC 1939 3).
#include "dot_stuffing.hpp"

#include <cstring>

namespace missive {

// A '.' is doubled after every LF, even one without its CR: receivers that wrongly take a
// bare LF as a line end then never see a line "." inside the text (SMTP smuggling).
void append_dot_stuffed(std::string& out, std::string_view text) {
  out.reserve(out.size() + text.size() + text.size() / 32 + 5);
  const bool needs_crlf = !text.empty() && !text.ends_with("\r\n");
  bool line_start = true;
  while (!text.empty()) {
    if (line_start && text.front() == '.') out += '.';
    const void* lf = std::memchr(text.data(), '\n', text.size());
    auto run = lf ? std::size_t(static_cast<const char*>(lf) - text.data()) + 1 : text.size();
    out.append(text.substr(0, run));
    line_start = lf != nullptr;
    text.remove_prefix(run);
  }
  // The text's last line needs its CRLF before the terminating "." line.
  if (needs_crlf) out += "\r\n";
  out += ".\r\n";
}

}  // namespace missive
