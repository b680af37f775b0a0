// Reading SPF records: see spf_record.hpp. The grammar is RFC 7208 12.
#include "spf_record.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include "ascii.hpp"
#include "spf_macro.hpp"

namespace missive {

namespace {

// A CIDR length "/n": "0" or a number without a leading zero, at most `most`.
std::optional<int> read_prefix(std::string_view digits, int most) {
  if (digits.empty() || digits.size() > 3) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  int value = 0;
  for (char c : digits) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > most) return std::nullopt;
  return value;
}

// Whether `text` could be a CIDR length's digits: a term ending so takes them as one.
bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// Takes a dual-cidr-length ("/n", "//m", "/n//m") off the end of `rest` into `m`; false
// when it is malformed.
bool take_dual_cidr(std::string_view& rest, spf_mechanism& m) {
  std::size_t double_slash = rest.rfind("//");
  if (double_slash != std::string_view::npos && all_digits(rest.substr(double_slash + 2))) {
    auto v6 = read_prefix(rest.substr(double_slash + 2), 128);
    if (!v6) return false;
    m.ip6_prefix = *v6;
    rest = rest.substr(0, double_slash);
  }
  std::size_t slash = rest.rfind('/');
  if (slash != std::string_view::npos && all_digits(rest.substr(slash + 1))) {
    auto v4 = read_prefix(rest.substr(slash + 1), 32);
    if (!v4) return false;
    m.ip4_prefix = *v4;
    rest = rest.substr(0, slash);
  }
  return true;
}

bool read_ip_network(std::string_view text, bool v4, spf_mechanism& m) {
  std::size_t slash = text.find('/');
  std::string address(text.substr(0, slash));
  if (slash != std::string_view::npos) {
    auto prefix = read_prefix(text.substr(slash + 1), v4 ? 32 : 128);
    if (!prefix) return false;
    (v4 ? m.ip4_prefix : m.ip6_prefix) = *prefix;
  }
  if (v4) {
    m.network[10] = m.network[11] = 0xff;
    return inet_pton(AF_INET, address.c_str(), m.network.data() + 12) == 1;
  }
  return inet_pton(AF_INET6, address.c_str(), m.network.data()) == 1;
}

std::optional<spf_mechanism_kind> mechanism_kind(std::string_view name) {
  static constexpr std::pair<std::string_view, spf_mechanism_kind> names[] = {
      {"all", spf_mechanism_kind::all},   {"include", spf_mechanism_kind::include},
      {"a", spf_mechanism_kind::a},       {"mx", spf_mechanism_kind::mx},
      {"ptr", spf_mechanism_kind::ptr},   {"ip4", spf_mechanism_kind::ip4},
      {"ip6", spf_mechanism_kind::ip6},   {"exists", spf_mechanism_kind::exists}};
  for (const auto& [text, kind] : names) {
    if (iequals(name, text)) return kind;
  }
  return std::nullopt;
}

// Reads one directive ([qualifier] mechanism); an error text when it is not one.
std::string read_directive(std::string_view term, spf_mechanism& m) {
  switch (term.empty() ? 0 : term[0]) {
    case '+': m.qualifier = spf_qualifier::pass; term.remove_prefix(1); break;
    case '-': m.qualifier = spf_qualifier::fail; term.remove_prefix(1); break;
    case '~': m.qualifier = spf_qualifier::softfail; term.remove_prefix(1); break;
    case '?': m.qualifier = spf_qualifier::neutral; term.remove_prefix(1); break;
  }
  std::size_t end = term.find_first_of(":/");
  auto kind = mechanism_kind(term.substr(0, end));
  if (!kind) return fmt::format("unknown mechanism \"{}\"", term);
  m.kind = *kind;
  std::string_view rest = end == std::string_view::npos ? std::string_view() : term.substr(end);
  bool has_domain = !rest.empty() && rest[0] == ':';
  switch (m.kind) {
    case spf_mechanism_kind::all:
      if (!rest.empty()) return fmt::format("\"{}\": all takes no argument", term);
      return {};
    case spf_mechanism_kind::ip4:
    case spf_mechanism_kind::ip6:
      if (!has_domain || !read_ip_network(rest.substr(1), m.kind == spf_mechanism_kind::ip4, m)) {
        return fmt::format("\"{}\": not a network", term);
      }
      return {};
    case spf_mechanism_kind::a:
    case spf_mechanism_kind::mx:
      if (!take_dual_cidr(rest, m)) return fmt::format("\"{}\": bad CIDR length", term);
      break;
    case spf_mechanism_kind::include:
    case spf_mechanism_kind::exists:
      if (!has_domain) return fmt::format("\"{}\" needs a domain", term);
      break;
    case spf_mechanism_kind::ptr:
      break;
  }
  if (rest.empty()) return {};
  if (rest[0] != ':') return fmt::format("\"{}\": unexpected \"{}\"", term, rest);
  m.domain_spec = std::string(rest.substr(1));
  if (!valid_domain_spec(m.domain_spec)) return fmt::format("\"{}\": bad domain-spec", term);
  return {};
}

// The length of a modifier's name at the start of `term` when it is one
// (name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) followed by "="), else 0.
std::size_t modifier_name_length(std::string_view term) {
  if (term.empty() || !is_alpha(term[0])) return 0;
  std::size_t at = 1;
  while (at < term.size() && (is_alpha(term[at]) || is_digit(term[at]) || term[at] == '-' ||
                              term[at] == '_' || term[at] == '.')) {
    ++at;
  }
  return at < term.size() && term[at] == '=' ? at : 0;
}

}  // namespace

bool is_spf_record(std::string_view text) {
  return istarts_with(text, "v=spf1") && (text.size() == 6 || text[6] == ' ');
}

spf_parse_result parse_spf_record(std::string_view text) {
  spf_parse_result result;
  if (!is_spf_record(text)) {
    result.error = "not an SPF record";
    return result;
  }
  spf_record record;
  std::string_view rest = text.substr(6);
  while (!rest.empty()) {
    std::size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    std::size_t end = rest.find(' ');
    std::string_view term = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);

    if (std::size_t name = modifier_name_length(term)) {
      std::string_view key = term.substr(0, name);
      std::string value(term.substr(name + 1));
      bool redirect = iequals(key, "redirect"), exp = iequals(key, "exp");
      bool ok = (redirect || exp) ? valid_domain_spec(value)
                                  : valid_macro_string(value, macro_use::domain_spec);
      if (!ok) {
        result.error = fmt::format("\"{}\": bad value", term);
        return result;
      }
      // RFC 7208 6: redirect and exp each appear at most once.
      auto& slot = redirect ? record.redirect : record.explanation;
      if (redirect || exp) {
        if (slot) {
          result.error = fmt::format("\"{}\" appears twice", key);
          return result;
        }
        slot = std::move(value);
      }
      continue;  // RFC 7208 6: unknown modifiers are ignored
    }
    spf_mechanism m;
    result.error = read_directive(term, m);
    if (!result.error.empty()) return result;
    record.mechanisms.push_back(std::move(m));
  }
  result.record = std::move(record);
  return result;
}

}  // namespace missive
