// Safe file names: see safe_file_name.hpp.
#include "safe_file_name.hpp"

#include <fmt/format.h>

namespace missive::client {

std::string safe_file_name(std::string_view suggested, std::size_t index) {
  auto slash = suggested.find_last_of("/\\");
  if (slash != std::string_view::npos) suggested = suggested.substr(slash + 1);
  std::string out;
  for (std::size_t i = 0; i < suggested.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(suggested[i]);
    // C1 controls are U+0080..U+009F, in UTF-8 0xC2 0x80..0x9F.
    if (c == 0xC2 && i + 1 < suggested.size() &&
        static_cast<unsigned char>(suggested[i + 1]) <= 0x9F &&
        static_cast<unsigned char>(suggested[i + 1]) >= 0x80) {
      out += '_';
      ++i;
      continue;
    }
    out += (c < 0x20 || c == 0x7F) ? '_' : static_cast<char>(c);
  }
  std::size_t dots = out.find_first_not_of('.');
  out.erase(0, dots == std::string::npos ? out.size() : dots);
  if (out.size() > max_file_name) {
    std::size_t cut = max_file_name;
    // Back up over UTF-8 continuation octets so no character is split.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  if (out.empty()) out = fmt::format("attachment-{}", index);
  return out;
}

std::string numbered_file_name(std::string_view name, std::size_t n) {
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return fmt::format("{} ({})", name, n);
  return fmt::format("{} ({}){}", name.substr(0, dot), n, name.substr(dot));
}

}  // namespace missive::client
