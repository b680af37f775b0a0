// SPF macros: see spf_macro.hpp.
#include "spf_macro.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "ascii.hpp"
#include "dns_rdata.hpp"

namespace missive {

namespace {

constexpr std::string_view delimiters = ".-+,/_=";

// One %{…} expansion, read.
struct macro_expand {
  char letter = 0;        // as written: upper case asks for URL escaping
  std::size_t keep = 0;   // rightmost parts to keep; 0: all
  bool reverse = false;
  std::string split_on = ".";  // the delimiters; "." when none is given
  std::size_t length = 0; // of the whole "%{…}" text
};

bool is_macro_letter(char c, macro_use use) {
  char lower = static_cast<char>(c | 0x20);
  if (std::string_view("slodiphv").find(lower) != std::string_view::npos) return true;
  return use == macro_use::explanation && std::string_view("crt").find(lower) != std::string_view::npos;
}

// Reads the "%{…}" at the start of `text`; nullopt when it is not a macro-expand.
std::optional<macro_expand> read_expand(std::string_view text, macro_use use) {
  if (text.size() < 4 || text[0] != '%' || text[1] != '{') return std::nullopt;
  macro_expand m;
  m.letter = text[2];
  if (!is_macro_letter(m.letter, use)) return std::nullopt;
  std::size_t at = 3;
  std::size_t digits = 0;
  while (at < text.size() && is_digit(text[at])) {
    // More parts than a name can have keep them all: only the digits' presence matters past 3.
    if (digits < 4) m.keep = m.keep * 10 + static_cast<std::size_t>(text[at] - '0');
    ++digits;
    ++at;
  }
  // RFC 7208 7.1: a DIGIT transformer must be nonzero.
  if (digits > 0 && m.keep == 0) return std::nullopt;
  if (at < text.size() && (text[at] == 'r' || text[at] == 'R')) {
    m.reverse = true;
    ++at;
  }
  std::size_t first_delimiter = at;
  while (at < text.size() && delimiters.find(text[at]) != std::string_view::npos) ++at;
  if (at > first_delimiter) m.split_on = std::string(text.substr(first_delimiter, at - first_delimiter));
  if (at >= text.size() || text[at] != '}') return std::nullopt;
  m.length = at + 1;
  return m;
}

// The length of the expansion at the start of `text` ("%{…}", "%%", "%_", "%-"); 0 if none.
std::size_t expand_length(std::string_view text, macro_use use) {
  if (text.size() >= 2 && (text[1] == '%' || text[1] == '_' || text[1] == '-')) return 2;
  auto m = read_expand(text, use);
  return m ? m->length : 0;
}

bool is_literal(char c, macro_use use) {
  auto u = static_cast<unsigned char>(c);
  if (use == macro_use::explanation && u == ' ') return true;
  return (u >= 0x21 && u <= 0x24) || (u >= 0x26 && u <= 0x7e);
}

// RFC 7208 7.1: toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool valid_toplabel(std::string_view label) {
  if (label.empty() || label.front() == '-' || label.back() == '-') return false;
  bool alpha = false, dash = false;
  for (char c : label) {
    if (is_alpha(c)) alpha = true;
    else if (c == '-') dash = true;
    else if (!is_digit(c)) return false;
  }
  return alpha || dash;
}

std::string ipv4_text(const std::array<std::uint8_t, 16>& a) {
  return fmt::format("{}.{}.{}.{}", a[12], a[13], a[14], a[15]);
}

// %{i} of an IPv6 client: its 32 nibbles, dot-separated (RFC 7208 7.3).
std::string ipv6_nibbles(const std::array<std::uint8_t, 16>& a) {
  std::string out;
  for (std::uint8_t byte : a) {
    if (!out.empty()) out += '.';
    out += fmt::format("{:x}.{:x}", byte >> 4, byte & 0x0f);
  }
  return out;
}

// %{c}: the address as people write it (RFC 7208 7.3).
std::string readable_address(const std::array<std::uint8_t, 16>& a) {
  if (is_mapped_ipv4(a)) return ipv4_text(a);
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, a.data(), text, sizeof text);
  return text;
}

std::string letter_value(char letter, const spf_macro_values& v) {
  bool v4 = is_mapped_ipv4(v.client);
  switch (letter | 0x20) {
    case 's': return v.sender;
    case 'l': return v.local_part;
    case 'o': return v.sender_domain;
    case 'd': return v.domain;
    case 'i': return v4 ? ipv4_text(v.client) : ipv6_nibbles(v.client);
    case 'p': return v.validated_name;
    case 'v': return v4 ? "in-addr" : "ip6";
    case 'h': return v.helo;
    case 'c': return readable_address(v.client);
    case 'r': return v.receiver.empty() ? "unknown" : v.receiver;
    case 't': return std::to_string(v.now);
  }
  return {};
}

// RFC 7208 7.3: split on the delimiters, reverse, keep the rightmost parts, join with dots.
std::string transform(const std::string& value, const macro_expand& m) {
  std::vector<std::string> parts{std::string()};
  for (char c : value) {
    if (m.split_on.find(c) != std::string::npos) parts.emplace_back();
    else parts.back() += c;
  }
  if (m.reverse) std::reverse(parts.begin(), parts.end());
  std::size_t from = (m.keep == 0 || m.keep >= parts.size()) ? 0 : parts.size() - m.keep;
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) {
    if (i > from) out += '.';
    out += parts[i];
  }
  return out;
}

// RFC 7208 7.3: upper-case macro letters are URL-escaped (RFC 3986 2.3 unreserved stay).
std::string url_escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~') out += c;
    else out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

}  // namespace

bool valid_macro_string(std::string_view text, macro_use use) {
  std::size_t at = 0;
  while (at < text.size()) {
    if (text[at] == '%') {
      std::size_t length = expand_length(text.substr(at), use);
      if (length == 0) return false;
      at += length;
    } else if (is_literal(text[at], use)) {
      ++at;
    } else {
      return false;
    }
  }
  return true;
}

bool valid_domain_spec(std::string_view text) {
  if (text.empty() || !valid_macro_string(text, macro_use::domain_spec)) return false;
  // Where the last expansion ends: what follows it is the literal tail.
  std::size_t tail = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t length = text[at] == '%' ? expand_length(text.substr(at), macro_use::domain_spec) : 0;
    at += length == 0 ? 1 : length;
    if (length != 0) tail = at;
  }
  std::string_view literal = text.substr(tail);
  if (literal.empty()) return tail > 0;  // ends in a macro-expand
  if (literal.back() == '.') literal.remove_suffix(1);
  std::size_t dot = literal.rfind('.');
  // "." toplabel: the dot may be the literal's first character, after an expansion.
  if (dot == std::string_view::npos) return false;
  return valid_toplabel(literal.substr(dot + 1));
}

bool uses_validated_name(std::string_view text) {
  for (std::size_t at = 0; at + 2 < text.size(); ++at) {
    if (text[at] == '%' && text[at + 1] == '{' && (text[at + 2] | 0x20) == 'p') return true;
    if (text[at] == '%' && text[at + 1] == '%') ++at;
  }
  return false;
}

std::string expand_macros(std::string_view text, const spf_macro_values& values, macro_use use) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    if (text[at] != '%' || at + 1 >= text.size()) {
      out += text[at++];
      continue;
    }
    char next = text[at + 1];
    if (next == '%') out += '%';
    else if (next == '_') out += ' ';
    else if (next == '-') out += "%20";
    if (next == '%' || next == '_' || next == '-') {
      at += 2;
      continue;
    }
    auto m = read_expand(text.substr(at), use);
    if (!m) {  // not valid: the caller checked; kept as written rather than guessed at
      out += text[at++];
      continue;
    }
    std::string value = transform(letter_value(m->letter, values), *m);
    out += is_upper(m->letter) ? url_escape(value) : value;
    at += m->length;
  }
  return out;
}

std::string target_name(std::string expanded) {
  if (!expanded.empty() && expanded.back() == '.') expanded.pop_back();
  while (expanded.size() > 253) {
    std::size_t dot = expanded.find('.');
    if (dot == std::string::npos) break;
    expanded.erase(0, dot + 1);
  }
  return expanded;
}

}  // namespace missive
