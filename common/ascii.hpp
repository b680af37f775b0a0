// ASCII case folding, as the protocols define it: verbs, keywords and header field names
// compare without regard to ASCII case, and nothing else is folded.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace missive {

// The ASCII lowercase of one octet; other octets are returned as they are.
constexpr char to_lower_ascii(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

constexpr bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_alpha(char c) { return is_upper(c) || (c >= 'a' && c <= 'z'); }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Whether two texts are equal regardless of ASCII case.
constexpr bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower_ascii(x) == to_lower_ascii(y);
         });
}

// Whether `text` starts with `prefix` regardless of ASCII case.
constexpr bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// The text with ASCII letters lowercased, e.g. a domain to compare with the relay's own.
inline std::string lowercase_ascii(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), to_lower_ascii);
  return out;
}

}  // namespace missive
