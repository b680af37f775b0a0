// IP networks in CIDR notation ("127.0.0.0/8", "::1/128"), for trusted_networks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace missive {

// An IPv4 or IPv6 network: address bytes and prefix length. IPv4 is held as IPv4-mapped
// IPv6 (::ffff:a.b.c.d) so that one comparison serves both families.
struct ip_network {
  std::array<std::uint8_t, 16> bytes{};
  int prefix_length = 0;  // counted on the 128-bit mapped form

  // Whether `address` (16 bytes, IPv4 mapped as above) lies within this network.
  bool contains(const std::array<std::uint8_t, 16>& address) const;
};

// Parses "a.b.c.d/n", "x:y::z/n" or a bare address (a host network); nullopt when malformed.
std::optional<ip_network> parse_ip_network(std::string_view text);

// Parses an IPv4 or IPv6 address into the 16-byte mapped form; nullopt when malformed.
std::optional<std::array<std::uint8_t, 16>> parse_ip_address(std::string_view text);

}  // namespace missive
