// xtext: see xtext.hpp.
#include "xtext.hpp"

namespace missive {
namespace {

// RFC 3461 4: hexchar = ASCII "+" immediately followed by two upper case hexadecimal digits.
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3461 4: xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except "+"
// and "=".
bool is_xchar(char c) { return c >= '!' && c <= '~' && c != '+' && c != '='; }

}  // namespace

std::optional<std::string> xtext_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (is_xchar(c)) {
      out += c;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string xtext_encode(std::string_view text) {
  constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_xchar(c)) {
      out += c;
    } else {
      auto octet = static_cast<unsigned char>(c);
      out += '+';
      out += digits[octet >> 4];
      out += digits[octet & 0xF];
    }
  }
  return out;
}

}  // namespace missive
