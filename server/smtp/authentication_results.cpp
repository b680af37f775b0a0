// Authentication-Results: see authentication_results.hpp.
#include "authentication_results.hpp"

#include <fmt/format.h>

#include "ascii.hpp"
#include "dkim_canonical.hpp"
#include "message_headers.hpp"

namespace missive {

namespace {

// The authserv-id of a field's text: the first token of its value (RFC 8601 2.2), before any
// version number or ';'.
std::string authserv_id_of(std::string_view field) {
  std::string_view value = field.substr(field.find(':') + 1);
  std::size_t start = value.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return {};
  value.remove_prefix(start);
  std::size_t end = value.find_first_of(" \t\r\n;(");
  return lowercase_ascii(value.substr(0, end));
}

bool is_ours(const header_field& field, std::string_view authserv_id) {
  return iequals(field.name, "authentication-results") &&
         authserv_id_of(field.text) == lowercase_ascii(authserv_id);
}

// A reason, made safe for a comment: no parentheses, backslashes or line ends.
std::string comment(std::string_view reason) {
  std::string out;
  for (char c : reason) out += (c == '(' || c == ')' || c == '\\' || c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

}  // namespace

std::string authentication_results(std::string_view authserv_id,
                                   const std::vector<dkim_result>& dkim) {
  std::string out = fmt::format("Authentication-Results: {}", authserv_id);
  if (dkim.empty()) return out + ";\r\n\tdkim=none\r\n";
  for (const auto& r : dkim) {
    out += fmt::format(";\r\n\tdkim={}", result_name(r.outcome));
    if (!r.reason.empty()) out += fmt::format(" ({})", comment(r.reason));
    if (!r.domain.empty()) out += fmt::format(" header.d={} header.s={}", r.domain, r.selector);
    if (!r.b_prefix.empty()) out += fmt::format(" header.b=\"{}\"", r.b_prefix);
  }
  return out + "\r\n";
}

bool has_results_of(std::string_view message, std::string_view authserv_id) {
  for (const auto& field : split_header_fields(message)) {
    if (is_ours(field, authserv_id)) return true;
  }
  return false;
}

std::string without_results_of(std::string_view message, std::string_view authserv_id) {
  std::string out;
  out.reserve(message.size());
  std::size_t copied = 0;
  for (const auto& field : split_header_fields(message)) {
    if (!is_ours(field, authserv_id)) continue;
    std::size_t at = static_cast<std::size_t>(field.text.data() - message.data());
    out.append(message.substr(copied, at - copied));
    copied = at + field.text.size();
  }
  out.append(message.substr(copied));
  return out;
}

}  // namespace missive
