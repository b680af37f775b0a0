// Reading DNS record data: see dns_rdata.hpp.
#include "dns_rdata.hpp"

#include <fmt/format.h>

namespace missive {

std::string txt_text(std::string_view rdata) {
  std::string out;
  std::size_t at = 0;
  while (at < rdata.size()) {
    std::size_t length = static_cast<unsigned char>(rdata[at]);
    out.append(rdata.substr(at + 1, length));
    at += 1 + length;
  }
  return out;
}

std::optional<std::string> rdata_name(std::string_view rdata) {
  std::string name;
  std::size_t at = 0;
  while (at < rdata.size()) {
    std::size_t length = static_cast<unsigned char>(rdata[at]);
    if (length == 0) return name;
    // A compression pointer (RFC 1035 4.1.4) has no place in data libunbound unpacked.
    if (length > 63 || at + 1 + length > rdata.size()) return std::nullopt;
    if (!name.empty()) name += '.';
    name.append(rdata.substr(at + 1, length));
    at += 1 + length;
  }
  return std::nullopt;  // no root label
}

std::optional<std::string> mx_exchange(std::string_view rdata) {
  if (rdata.size() < 3) return std::nullopt;
  return rdata_name(rdata.substr(2));
}

bool is_mapped_ipv4(const std::array<std::uint8_t, 16>& address) {
  for (int i = 0; i < 10; ++i) {
    if (address[i] != 0) return false;
  }
  return address[10] == 0xff && address[11] == 0xff;
}

std::string reverse_lookup_name(const std::array<std::uint8_t, 16>& address) {
  if (is_mapped_ipv4(address)) {
    return fmt::format("{}.{}.{}.{}.in-addr.arpa", address[15], address[14], address[13],
                       address[12]);
  }
  std::string name;
  for (int i = 15; i >= 0; --i) {
    name += fmt::format("{:x}.{:x}.", address[i] & 0x0f, address[i] >> 4);
  }
  return name + "ip6.arpa";
}

}  // namespace missive
