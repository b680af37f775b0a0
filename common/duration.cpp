// Durations: see duration.hpp.
#include "duration.hpp"

#include <charconv>
#include <cstdint>

namespace missive {

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  std::string_view digits = text.substr(0, text.size() - 1);
  std::int64_t count = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc{} || end != digits.data() + digits.size() || count < 0) return std::nullopt;
  // A century is more than any mail timeout needs, and keeps the product from overflowing.
  if (count > 100LL * 365 * 86400 / unit) return std::nullopt;
  return std::chrono::seconds(count * unit);
}

std::optional<std::chrono::milliseconds> parse_duration_ms(std::string_view text) {
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    std::string_view digits = text.substr(0, text.size() - 2);
    std::int64_t count = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
    if (ec != std::errc{} || end != digits.data() + digits.size() || count < 0 ||
        count > 100LL * 365 * 86400 * 1000) {
      return std::nullopt;
    }
    return std::chrono::milliseconds(count);
  }
  auto seconds = parse_duration(text);
  if (!seconds) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*seconds);
}

std::string format_duration(std::chrono::seconds duration) {
  std::int64_t s = duration.count();
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace missive
