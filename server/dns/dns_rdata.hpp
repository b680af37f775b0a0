// Reading the data of DNS records as libunbound hands them over (uncompressed wire format),
// and the names asked for in reverse lookups; without I/O.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace missive {

// The text of a TXT record's data: its character-strings joined without separators
// (RFC 1035 3.3.14; RFC 7208 3.3, RFC 6376 3.6.2.2).
std::string txt_text(std::string_view rdata);

// The domain name at the start of `rdata` (a PTR or CNAME record's data), written with dots
// and without the trailing one; nullopt when malformed.
std::optional<std::string> rdata_name(std::string_view rdata);

// The exchange of an MX record's data (RFC 1035 3.3.9); nullopt when malformed.
std::optional<std::string> mx_exchange(std::string_view rdata);

// The name a PTR query for `address` (16 octets, IPv4 mapped as ::ffff:a.b.c.d) asks:
// "d.c.b.a.in-addr.arpa" or 32 nibbles under "ip6.arpa" (RFC 1035 3.5, RFC 3596 2.5).
std::string reverse_lookup_name(const std::array<std::uint8_t, 16>& address);

// Whether `address` is an IPv4 address in the mapped form.
bool is_mapped_ipv4(const std::array<std::uint8_t, 16>& address);

}  // namespace missive
