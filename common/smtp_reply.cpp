// SMTP replies (RFC 5321 4.2) with enhanced status codes (RFC 3463, RFC 2034).
#include "smtp_reply.hpp"

#include "limits.hpp"

namespace missive {
namespace {

constexpr std::size_t max_line_octets = limits::smtp_reply_line - 2;  // without the CRLF

// Appends one reply line: code, separator, enhanced code and text, cut to the line limit.
void append_line(std::string& out, const smtp_reply& reply, char separator,
                 std::string_view text) {
  auto start = out.size();
  bool has_text = text.find_first_not_of('\r') != std::string_view::npos;
  out += std::to_string(reply.code);
  if (!reply.enhanced.empty() || has_text || separator == '-') out += separator;
  out += reply.enhanced;
  if (!reply.enhanced.empty() && has_text) out += ' ';
  // A CR inside a line would end it early on the wire: left out.
  for (auto cr = text.find('\r'); cr != std::string_view::npos; cr = text.find('\r')) {
    out += text.substr(0, cr);
    text.remove_prefix(cr + 1);
  }
  out += text;
  if (out.size() - start > max_line_octets) {
    auto cut = start + max_line_octets;
    // Back off to a UTF-8 character boundary rather than split a character.
    while (cut > start && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  out += "\r\n";
}

}  // namespace

void append_reply(std::string& out, const smtp_reply& reply) {
  std::string_view text = reply.text;
  if (text.ends_with('\n')) text.remove_suffix(1);  // a final newline adds no empty line
  while (true) {
    auto newline = text.find('\n');
    if (newline == std::string_view::npos) {
      append_line(out, reply, ' ', text);
      return;
    }
    append_line(out, reply, '-', text.substr(0, newline));
    text.remove_prefix(newline + 1);
  }
}

std::string format_reply(const smtp_reply& reply) {
  std::string out;
  append_reply(out, reply);
  return out;
}

}  // namespace missive
