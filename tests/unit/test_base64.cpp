// Unit tests for base64 (RFC 4648 4).
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "base64.hpp"

using namespace std::literals;

TEST_CASE("base64: RFC 4648 10 test vectors both ways") {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
      {"\0alice\0secret"s, "AGFsaWNlAHNlY3JldA=="},
      {"\xff\xfe\xfd", "//79"},
      {"\xfb\xff", "+/8="},
  };
  for (const auto& [bytes, text] : vectors) {
    INFO("text: ", text);
    CHECK(missive::base64_encode(bytes) == text);
    CHECK(missive::base64_decode(text) == bytes);
  }
}

TEST_CASE("base64: every byte value round-trips") {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += char(i);
  for (std::size_t length = 0; length <= bytes.size(); length += 37) {
    auto prefix = bytes.substr(0, length);
    auto encoded = missive::base64_encode(prefix);
    CHECK(encoded.size() == (length + 2) / 3 * 4);
    CHECK(missive::base64_decode(encoded) == prefix);
  }
  CHECK(missive::base64_decode(missive::base64_encode(bytes)) == bytes);
}

TEST_CASE("base64: malformed input is refused") {
  const std::vector<std::string> malformed = {
      "Zg",       "Zg=",      "Zm9",      "Z",        "Z===",     "====",     "=Zg=",
      "Zg==Zg==", "Zm=v",     "Zm9v\r\n", "Zm 9v",    "Zm9v ",    " Zm9v",    "Zm9v!AAA",
      "Zm9-",     "Zm9_",     "Zm9v\0AAA"s, "Zg=\0"s, "Zm9\xc3\xa9",
  };
  for (const auto& text : malformed) {
    INFO("text: ", text);
    CHECK(missive::base64_decode(text) == std::nullopt);
  }
}
