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
                                   const authentication_findings& findings) {
  std::vector<std::string> results;
  auto spf = [&](const std::optional<spf_result>& r, std::string_view property, std::string_view value) {
    if (!r) return;
    std::string text = fmt::format("spf={}", result_name(r->outcome));
    if (!r->reason.empty()) text += fmt::format(" ({})", comment(r->reason));
    text += fmt::format(" smtp.{}={}", property, value);
    results.push_back(std::move(text));
  };
  spf(findings.spf_mail_from, "mailfrom", findings.mail_from);
  spf(findings.spf_helo, "helo", findings.helo);
  if (findings.dkim) {
    if (findings.dkim->empty()) results.emplace_back("dkim=none");
    for (const auto& r : *findings.dkim) {
      std::string text = fmt::format("dkim={}", result_name(r.outcome));
      if (!r.reason.empty()) text += fmt::format(" ({})", comment(r.reason));
      if (!r.domain.empty()) text += fmt::format(" header.d={} header.s={}", r.domain, r.selector);
      if (!r.b_prefix.empty()) text += fmt::format(" header.b=\"{}\"", r.b_prefix);
      results.push_back(std::move(text));
    }
  }
  if (findings.dmarc) {
    const dmarc_result& r = *findings.dmarc;
    std::string text = fmt::format("dmarc={}", result_name(r.outcome));
    if (r.policy) {
      text += fmt::format(" (p={} dis={})", policy_name(*r.policy), policy_name(r.disposition));
    } else if (!r.reason.empty()) {
      text += fmt::format(" ({})", comment(r.reason));
    }
    if (!r.from_domain.empty()) text += fmt::format(" header.from={}", r.from_domain);
    results.push_back(std::move(text));
  }
  // RFC 8601 2.2: "none" when no method was applied.
  if (results.empty()) results.emplace_back("none");
  std::string out = fmt::format("Authentication-Results: {}", authserv_id);
  for (const auto& r : results) out += fmt::format(";\r\n\t{}", r);
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
