// Base64 (RFC 4648 4).
#include "base64.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace missive {
namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr int invalid = -1;

constexpr std::array<int, 256> make_decode_table() {
  std::array<int, 256> table{};
  table.fill(invalid);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = int(i);
  }
  return table;
}

constexpr auto decode_table = make_decode_table();

int sextet(char c) { return decode_table[static_cast<unsigned char>(c)]; }

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      group = group << 8 | (j < n ? static_cast<unsigned char>(bytes[i + j]) : 0u);
    }
    for (std::size_t j = 0; j < 4; ++j) {
      out += j <= n ? alphabet[(group >> (18 - 6 * j)) & 0x3F] : '=';
    }
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    // RFC 4648 3.3: '=' only at the end, as "x==" or "xx=" completions of the last group.
    std::size_t padding = last ? (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=')
                               : 0;
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      int value = j < 4 - padding ? sextet(text[i + j]) : 0;
      if (value == invalid) return std::nullopt;
      group = group << 6 | std::uint32_t(value);
    }
    for (std::size_t j = 0; j < 3 - padding; ++j) out += char((group >> (16 - 8 * j)) & 0xFF);
  }
  return out;
}

}  // namespace missive
