// Terminal text: see terminal_text.hpp.
#include "terminal_text.hpp"

#include <fmt/format.h>

#include <ctime>

namespace missive::client {

std::string printable(std::string_view text, bool multiline) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (multiline && (c == '\n' || c == '\t')) out += c;
    else if (u < 0x20 || u == 0x7F) out += (c == '\t' || c == '\n' || c == '\r') ? ' ' : '?';
    else out += c;
  }
  return out;
}

std::string fit(std::string_view text, std::size_t width) {
  std::string out;
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t len = 1;
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0xF0) len = 4;
    else if (c >= 0xE0) len = 3;
    else if (c >= 0xC0) len = 2;
    if (count + 1 == width && i + len < text.size()) {
      out += "…";
      ++count;
      break;
    }
    out.append(text.substr(i, len));
    ++count;
    i += len;
    if (count == width) break;
  }
  while (count++ < width) out += ' ';
  return out;
}

std::string format_local(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M", &tm);
  return buffer;
}

std::string format_size(std::int64_t size) {
  if (size < 1024) return fmt::format("{}", size);
  if (size < 1024 * 1024) return fmt::format("{:.1f}K", size / 1024.0);
  return fmt::format("{:.1f}M", size / (1024.0 * 1024.0));
}

}  // namespace missive::client
