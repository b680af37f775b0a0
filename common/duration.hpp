// Durations as the config writes them: "30s", "5m", "1h", "5d".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace missive {

// Parses "<digits><unit>" with unit s, m, h or d; nullopt for anything else or overflow.
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

// Parses like parse_duration, and also "<digits>ms"; "0s" is allowed.
std::optional<std::chrono::milliseconds> parse_duration_ms(std::string_view text);

// Formats a duration in the largest unit that divides it exactly ("90s", "5m", "2d").
std::string format_duration(std::chrono::seconds duration);

}  // namespace missive
