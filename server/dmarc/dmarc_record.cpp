// DMARC records: see dmarc_record.hpp.
#include "dmarc_record.hpp"

#include "ascii.hpp"

namespace missive {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<dmarc_policy> read_policy(std::string_view value) {
  if (iequals(value, "none")) return dmarc_policy::none;
  if (iequals(value, "quarantine")) return dmarc_policy::quarantine;
  if (iequals(value, "reject")) return dmarc_policy::reject;
  return std::nullopt;
}

std::optional<int> read_percent(std::string_view value) {
  if (value.empty() || value.size() > 3) return std::nullopt;
  int n = 0;
  for (char c : value) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n > 100) return std::nullopt;
  return n;
}

}  // namespace

std::string_view policy_name(dmarc_policy policy) {
  switch (policy) {
    case dmarc_policy::none: return "none";
    case dmarc_policy::quarantine: return "quarantine";
    case dmarc_policy::reject: return "reject";
  }
  return "none";
}

bool is_dmarc_record(std::string_view text) {
  text = trim(text);
  if (!istarts_with(text, "v")) return false;
  std::string_view rest = trim(text.substr(1));
  if (rest.empty() || rest[0] != '=') return false;
  rest = trim(rest.substr(1));
  if (!istarts_with(rest, "DMARC1")) return false;
  rest = trim(rest.substr(6));
  return rest.empty() || rest[0] == ';';
}

std::optional<dmarc_record> parse_dmarc_record(std::string_view text) {
  if (!is_dmarc_record(text)) return std::nullopt;
  dmarc_record record;
  bool has_policy = false, has_report_address = false;
  bool first = true;
  while (!text.empty()) {
    std::size_t end = text.find(';');
    std::string_view tag = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (first) {  // v=DMARC1, checked above
      first = false;
      continue;
    }
    std::size_t equals = tag.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view name = trim(tag.substr(0, equals));
    std::string_view value = trim(tag.substr(equals + 1));
    if (iequals(name, "p")) {
      auto policy = read_policy(value);
      if (policy) {
        record.policy = *policy;
        has_policy = true;
      }
    } else if (iequals(name, "sp")) {
      record.subdomain_policy = read_policy(value);
    } else if (iequals(name, "pct")) {
      record.percent = read_percent(value).value_or(100);
    } else if (iequals(name, "adkim")) {
      record.strict_dkim = iequals(value, "s");
    } else if (iequals(name, "aspf")) {
      record.strict_spf = iequals(value, "s");
    } else if (iequals(name, "rua")) {
      has_report_address = !value.empty();
    }
  }
  // RFC 7489 6.6.3: without a valid p=, a record with rua= counts as p=none; else none at all.
  if (!has_policy && !has_report_address) return std::nullopt;
  return record;
}

}  // namespace missive
