// What the fuzz targets share: an invariant check that stops the run at once, and small
// helpers to look at bytes. Header-only; included by every tests/fuzz/fuzz_*.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

// Checks an invariant; when it is broken, says which one and traps, so libFuzzer keeps the
// input as a crash (abort() would do too; a trap needs no signal handler to be reported).
#define FUZZ_CHECK(condition)                                                              \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", #condition, __FILE__,   \
                   __LINE__);                                                              \
      __builtin_trap();                                                                    \
    }                                                                                      \
  } while (0)

namespace missive::fuzz {

// The fuzzer's input as text.
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An offset in [0, size] taken from the input itself, so a saved crash replays the same split.
inline std::size_t split_offset(std::string_view input) {
  std::uint32_t hash = 2166136261u;  // FNV-1a over at most the first 16 octets
  for (std::size_t i = 0; i < input.size() && i < 16; ++i) {
    hash = (hash ^ static_cast<unsigned char>(input[i])) * 16777619u;
  }
  return input.empty() ? 0 : hash % (input.size() + 1);
}

// Whether `text` holds an ASCII control octet (0-31 or 127): CR, LF, NUL and friends.
inline bool has_control(std::string_view text) {
  for (char c : text) {
    auto octet = static_cast<unsigned char>(c);
    if (octet < 0x20 || octet == 0x7F) return true;
  }
  return false;
}

// Whether every octet of `text` is 7-bit ASCII.
inline bool all_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Whether `inner` lies inside `outer` (same buffer), as parsers' string_views must.
inline bool within(std::string_view inner, std::string_view outer) {
  return inner.empty() ||
         (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
inline bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t length;
    std::uint32_t code;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) { length = 2; code = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { length = 3; code = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { length = 4; code = c & 0x07; }
    else return false;
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = code << 6 | (next & 0x3F);
    }
    if ((length == 3 && code < 0x800) || (length == 4 && code < 0x10000) || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace missive::fuzz
