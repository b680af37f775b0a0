// JSON text for the admin commands' --json output (RFC 8259): strings escaped, and bytes
// that are not UTF-8 (a remote reply may hold anything) replaced, so that every document
// printed is valid JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace missive::json {

// `text` as a JSON string literal, quotes included; invalid UTF-8 becomes U+FFFD.
std::string quote(std::string_view text);

// A string literal, or null when there is no value.
inline std::string quote_or_null(const std::optional<std::string>& text) {
  return text ? quote(*text) : std::string("null");
}

}  // namespace missive::json
