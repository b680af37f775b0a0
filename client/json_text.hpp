// JSON text for `--json` output (RFC 8259), without I/O.
#pragma once

#include <string>
#include <string_view>

namespace missive::client {

// `text` as a JSON string, quotes included: '"' and '\' escaped, control characters as
// \uXXXX (RFC 8259 7), and octets that are not UTF-8 replaced by U+FFFD (8.1: JSON text is
// UTF-8), so that any header a message carries prints as valid JSON.
std::string json_string(std::string_view text);

}  // namespace missive::client
