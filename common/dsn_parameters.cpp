// The DSN extension's parameters: see dsn_parameters.hpp.
#include "dsn_parameters.hpp"

#include <algorithm>

#include "ascii.hpp"
#include "mail_address.hpp"
#include "xtext.hpp"

namespace missive {
namespace {

// RFC 3461 4.4: ENVID is at most 100 characters; 4.2: ORCPT at most 500.
constexpr std::size_t max_envid = 100;
constexpr std::size_t max_orcpt = 500;

bool printable_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= ' ' && c <= '~'; });
}

// RFC 5322 3.2.3: atext.
bool is_atext(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

}  // namespace

bool notify_wants(std::uint8_t notify, dsn_event event) {
  if (notify == 0) return event != dsn_event::success;
  if (notify & dsn_notify::never) return false;
  switch (event) {
    case dsn_event::success: return (notify & dsn_notify::success) != 0;
    case dsn_event::failure: return (notify & dsn_notify::failure) != 0;
    case dsn_event::delay: return (notify & dsn_notify::delay) != 0;
  }
  return false;
}

std::optional<std::uint8_t> parse_notify(std::string_view value) {
  // RFC 3461 4.1: notify-esmtp-value = "NEVER" / 1#notify-list-element.
  if (iequals(value, "NEVER")) return dsn_notify::never;
  std::uint8_t flags = 0;
  while (true) {
    auto comma = value.find(',');
    auto item = value.substr(0, comma);
    std::uint8_t flag = 0;
    if (iequals(item, "SUCCESS")) flag = dsn_notify::success;
    else if (iequals(item, "FAILURE")) flag = dsn_notify::failure;
    else if (iequals(item, "DELAY")) flag = dsn_notify::delay;
    else return std::nullopt;  // NEVER in a list, an empty item, anything else
    if (flags & flag) return std::nullopt;
    flags |= flag;
    if (comma == std::string_view::npos) return flags;
    value.remove_prefix(comma + 1);
  }
}

std::string format_notify(std::uint8_t notify) {
  if (notify & dsn_notify::never) return "NEVER";
  std::string out;
  auto add = [&](std::uint8_t flag, std::string_view name) {
    if (!(notify & flag)) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(dsn_notify::success, "SUCCESS");
  add(dsn_notify::failure, "FAILURE");
  add(dsn_notify::delay, "DELAY");
  return out;
}

std::optional<dsn_return> parse_ret(std::string_view value) {
  if (iequals(value, "FULL")) return dsn_return::full;
  if (iequals(value, "HDRS")) return dsn_return::headers;
  return std::nullopt;
}

std::optional<std::string> parse_envid(std::string_view value) {
  if (value.empty() || value.size() > max_envid) return std::nullopt;
  auto decoded = xtext_decode(value);
  if (!decoded || !printable_ascii(*decoded)) return std::nullopt;
  return decoded;
}

std::optional<original_recipient> parse_orcpt(std::string_view value) {
  if (value.size() > max_orcpt) return std::nullopt;
  auto semicolon = value.find(';');
  if (semicolon == std::string_view::npos) return std::nullopt;
  auto type = value.substr(0, semicolon);
  if (type.empty() || !std::all_of(type.begin(), type.end(), is_atext)) return std::nullopt;
  auto decoded = xtext_decode(value.substr(semicolon + 1));
  if (!decoded || decoded->empty() || !printable_ascii(*decoded)) return std::nullopt;
  if (iequals(type, "rfc822")) {
    // The original recipient is an RFC 5321 mailbox; a path's brackets are not part of it.
    auto parsed = parse_address(*decoded, false);
    if (parsed.error != address_error::none || parsed.consumed != decoded->size() ||
        parsed.address.domain.empty()) {
      return std::nullopt;
    }
  }
  return original_recipient{std::string(type), std::move(*decoded)};
}

std::string format_orcpt(const original_recipient& orcpt) {
  return orcpt.type + ";" + xtext_encode(orcpt.address);
}

}  // namespace missive
