// IP networks: see ip_network.hpp.
#include "ip_network.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace missive {

std::optional<std::array<std::uint8_t, 16>> parse_ip_address(std::string_view text) {
  std::string copy(text);
  std::array<std::uint8_t, 16> bytes{};
  in_addr v4{};
  if (inet_pton(AF_INET, copy.c_str(), &v4) == 1) {
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    std::memcpy(bytes.data() + 12, &v4, 4);
    return bytes;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, copy.c_str(), &v6) == 1) {
    std::memcpy(bytes.data(), &v6, 16);
    return bytes;
  }
  return std::nullopt;
}

std::optional<ip_network> parse_ip_network(std::string_view text) {
  auto slash = text.find('/');
  auto address = parse_ip_address(text.substr(0, slash));
  if (!address) return std::nullopt;
  bool is_v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  int max_length = is_v4 ? 32 : 128;
  int length = max_length;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        length < 0 || length > max_length) {
      return std::nullopt;
    }
  }
  ip_network network;
  network.bytes = *address;
  network.prefix_length = is_v4 ? length + 96 : length;
  return network;
}

bool ip_network::contains(const std::array<std::uint8_t, 16>& address) const {
  int full_bytes = prefix_length / 8;
  if (std::memcmp(bytes.data(), address.data(), full_bytes) != 0) return false;
  int rest = prefix_length % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (bytes[full_bytes] & mask) == (address[full_bytes] & mask);
}

}  // namespace missive
