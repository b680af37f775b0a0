// Text for the terminal: stripped of control characters, fitted to columns, dates and sizes
// in the inbox table's format.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace missive::client {

// Text safe for a terminal: control characters (escape sequences) become '?', except line
// breaks and tabs when `multiline`.
std::string printable(std::string_view text, bool multiline = false);

// `text` cut or padded to `width` characters (UTF-8 code points).
std::string fit(std::string_view text, std::size_t width);

// "2026-11-21 18:49" in local time.
std::string format_local(std::int64_t unix_seconds);

// "12.3K", "4.0M": a size for the table.
std::string format_size(std::int64_t size);

}  // namespace missive::client
