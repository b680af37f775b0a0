// Mail addresses in SMTP paths (RFC 5321 4.1.2), parsed without I/O.
#include "mail_address.hpp"

#include <algorithm>
#include <optional>

#include "ascii.hpp"
#include "limits.hpp"

namespace missive {
namespace {

constexpr auto npos = std::string_view::npos;

bool is_hex_digit(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
// Octets of UTF-8 multi-byte sequences; callers refuse them first when SMTPUTF8 is absent.
bool is_8bit(unsigned char c) { return c >= 0x80; }

bool has_8bit(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return is_8bit(c); });
}

// RFC 5322 3.2.3 atext; RFC 6531 3.3 adds UTF8-non-ascii.
bool is_atext(unsigned char c) {
  static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  return is_alpha(c) || is_digit(c) || is_8bit(c) || specials.find(char(c)) != npos;
}

// RFC 5321 4.1.2: qtextSMTP = %d32-33 / %d35-91 / %d93-126; RFC 6531 3.3 adds UTF8-non-ascii.
bool is_qtext(unsigned char c) {
  return (c >= 32 && c <= 126 && c != '"' && c != '\\') || is_8bit(c);
}

// RFC 5321 4.1.2: Dot-string = Atom *("." Atom), Atom = 1*atext.
bool is_dot_string(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  if (text.find("..") != npos) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == '.' || is_atext(c); });
}

// RFC 5321 4.1.2: sub-domain = Let-dig [Ldh-str]; RFC 6531 3.3 allows U-labels.
bool is_label(std::string_view label) {
  auto let_dig = [](unsigned char c) { return is_alpha(c) || is_digit(c) || is_8bit(c); };
  if (label.empty() || !let_dig(label.front()) || !let_dig(label.back())) return false;
  return std::all_of(label.begin(), label.end(),
                     [&](char c) { return c == '-' || let_dig(c); });
}

// RFC 5321 4.1.2: Domain = sub-domain *("." sub-domain).
bool is_domain_name(std::string_view domain) {
  if (domain.empty()) return false;
  while (true) {
    auto dot = domain.find('.');
    if (!is_label(domain.substr(0, dot))) return false;
    if (dot == npos) return true;
    domain.remove_prefix(dot + 1);
  }
}

// RFC 5321 4.1.3: IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT (0-255).
bool is_ipv4(std::string_view text) {
  for (int part = 0; part < 4; ++part) {
    auto dot = text.find('.');
    if ((part < 3) == (dot == npos)) return false;
    auto snum = text.substr(0, dot);
    if (snum.empty() || snum.size() > 3) return false;
    int value = 0;
    for (char c : snum) {
      if (!is_digit(c)) return false;
      value = value * 10 + (c - '0');
    }
    if (value > 255) return false;
    text.remove_prefix(dot == npos ? text.size() : dot + 1);
  }
  return true;
}

// Counts the 16-bit groups of "h16:h16:..." ("" is none); the last group may be an IPv4
// address (two groups) when `ipv4_last`. nullopt when malformed.
std::optional<std::size_t> count_ipv6_groups(std::string_view text, bool ipv4_last) {
  std::size_t groups = 0;
  while (!text.empty()) {
    auto colon = text.find(':');
    auto group = text.substr(0, colon);
    if (colon == npos && ipv4_last && group.find('.') != npos) {
      return is_ipv4(group) ? std::optional(groups + 2) : std::nullopt;
    }
    if (group.empty() || group.size() > 4) return std::nullopt;
    if (!std::all_of(group.begin(), group.end(), [](char c) { return is_hex_digit(c); })) {
      return std::nullopt;
    }
    ++groups;
    if (colon == npos) break;
    text.remove_prefix(colon + 1);
    if (text.empty()) return std::nullopt;  // a trailing ':'
  }
  return groups;
}

// RFC 5321 4.1.3: IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp; "::"
// stands for at least two zero groups, so at most six others may be written with it.
bool is_ipv6(std::string_view text) {
  auto gap = text.find("::");
  if (gap == npos) {
    auto groups = count_ipv6_groups(text, true);
    return groups && *groups == 8;
  }
  if (text.find("::", gap + 1) != npos) return false;
  auto head = count_ipv6_groups(text.substr(0, gap), false);
  auto tail = count_ipv6_groups(text.substr(gap + 2), true);
  return head && tail && *head + *tail <= 6;
}

// RFC 5321 4.1.3: General-address-literal = Standardized-tag ":" 1*dcontent.
bool is_general_literal(std::string_view text) {
  auto colon = text.find(':');
  if (colon == npos || !is_label(text.substr(0, colon)) || has_8bit(text.substr(0, colon))) {
    return false;
  }
  auto content = text.substr(colon + 1);
  auto dcontent = [](unsigned char c) { return (c >= 33 && c <= 90) || (c >= 94 && c <= 126); };
  return !content.empty() && std::all_of(content.begin(), content.end(), dcontent);
}

bool starts_with_ipv6_tag(std::string_view text) {
  return istarts_with(text, "ipv6:");
}

// RFC 5321 4.1.3: address-literal = "[" ( IPv4 / IPv6 / General-address-literal ) "]".
bool is_address_literal(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return false;
  auto inner = text.substr(1, text.size() - 2);
  if (starts_with_ipv6_tag(inner)) return is_ipv6(inner.substr(5));
  return is_ipv4(inner) || is_general_literal(inner);
}

bool is_domain(std::string_view text) {
  return !text.empty() && text.front() == '[' ? is_address_literal(text) : is_domain_name(text);
}

// Reads a Quoted-string at the start of `text` into `unquoted`; returns the offset just
// after its closing quote, or npos. RFC 5321 4.1.2: quoted-pairSMTP = %d92 %d32-126.
std::size_t read_quoted_string(std::string_view text, std::string& unquoted) {
  for (std::size_t i = 1; i < text.size(); ++i) {
    unsigned char c = text[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 == text.size() || text[i + 1] < 32 || text[i + 1] > 126) return npos;
      unquoted += text[++i];
    } else if (is_qtext(c)) {
      unquoted += char(c);
    } else {
      return npos;
    }
  }
  return npos;
}

// Parses Mailbox = Local-part "@" ( Domain / address-literal ), the whole of `text`.
parsed_path parse_mailbox(std::string_view text) {
  parsed_path result;
  std::string local_part;
  std::size_t at = npos;
  if (!text.empty() && text.front() == '"') {
    at = read_quoted_string(text, local_part);
  } else {
    at = text.find('@');
    if (at != npos && is_dot_string(text.substr(0, at))) local_part = text.substr(0, at);
    else at = npos;
  }
  if (at == npos || at >= text.size() || text[at] != '@' || !is_domain(text.substr(at + 1))) {
    result.error = address_error::syntax;
  } else if (at > limits::local_part) {
    result.error = address_error::local_part_too_long;
  } else if (text.size() - at - 1 > limits::domain) {
    result.error = address_error::domain_too_long;
  } else {
    result.address = {std::move(local_part), std::string(text.substr(at + 1))};
  }
  return result;
}

// Drops a source route "@a,@b:" (RFC 5321 4.1.2 A-d-l, appendix C) after checking it;
// nullopt when it is malformed.
std::optional<std::string_view> without_source_route(std::string_view text) {
  if (text.empty() || text.front() != '@') return text;
  auto colon = text.find(':');
  if (colon == npos) return std::nullopt;
  auto route = text.substr(0, colon);
  while (true) {
    auto comma = route.find(',');
    auto at_domain = route.substr(0, comma);
    if (at_domain.empty() || at_domain.front() != '@' || !is_domain_name(at_domain.substr(1))) {
      return std::nullopt;
    }
    if (comma == npos) return text.substr(colon + 1);
    route.remove_prefix(comma + 1);
  }
}

// Finds the '>' that closes a path opened at text[0], skipping a quoted local part.
std::size_t find_path_end(std::string_view text) {
  bool quoted = false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (quoted && c == '\\') ++i;
    else if (c == '"') quoted = !quoted;
    else if (!quoted && c == '>') return i;
  }
  return npos;
}

}  // namespace

std::string mail_address::str() const {
  if (is_null()) return "";
  std::string out;
  if (is_dot_string(local_part)) {
    out = local_part;
  } else {
    // RFC 5321 4.1.2: a local part that is not a Dot-string must be sent quoted.
    out += '"';
    for (char c : local_part) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  if (!domain.empty()) out += '@' + domain;
  return out;
}

parsed_path parse_path(std::string_view text, path_options options) {
  parsed_path result;
  auto end = text.empty() || text.front() != '<' ? npos : find_path_end(text);
  if (end == npos) {
    result.error = address_error::syntax;
    return result;
  }
  result.consumed = end + 1;
  auto inner = text.substr(1, end - 1);
  if (result.consumed > limits::path) {
    result.error = address_error::path_too_long;
  } else if (!options.allow_utf8 && has_8bit(inner)) {
    result.error = address_error::non_ascii;  // RFC 6531 3.2
  } else if (inner.empty()) {
    if (!options.allow_null) result.error = address_error::null_not_allowed;
  } else if (auto mailbox = without_source_route(inner)) {
    auto parsed = parse_mailbox(*mailbox);
    result.address = std::move(parsed.address);
    result.error = parsed.error;
  } else {
    result.error = address_error::syntax;
  }
  return result;
}

parsed_path parse_address(std::string_view text, bool allow_utf8) {
  if (!allow_utf8 && has_8bit(text)) {
    parsed_path result;
    result.error = address_error::non_ascii;
    return result;
  }
  auto result = parse_mailbox(text);
  if (result.error == address_error::none) result.consumed = text.size();
  return result;
}

}  // namespace missive
