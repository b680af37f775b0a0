// Fuzzes the DNS MX answer parser (server/mx_lookup.hpp, parse_mx_response): a reply from the
// network, where every length and compression pointer may lie (RFC 1035 4.1).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "mx_lookup.hpp"

using namespace missive;
using namespace missive::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view packet = as_text(data, size);
  const mx_answer answer = parse_mx_response(packet);
  FUZZ_CHECK(!answer.detail.empty());
  if (answer.outcome != mx_answer::kind::records) {
    FUZZ_CHECK(answer.hosts.empty());
    return 0;
  }
  FUZZ_CHECK(!answer.hosts.empty());
  FUZZ_CHECK(std::is_sorted(answer.hosts.begin(), answer.hosts.end(),
                            [](const mx_record& a, const mx_record& b) {
                              return a.preference < b.preference;
                            }));
  for (const mx_record& record : answer.hosts) {
    FUZZ_CHECK(record.preference >= 0 && record.preference <= 65535);
    // A host name reaches logs and sockets: letters, digits, '-', '_', '.' only, and no
    // longer than a name can be on the wire (RFC 1035 2.3.4).
    FUZZ_CHECK(!record.host.empty() && record.host.size() <= 253);
    FUZZ_CHECK(std::all_of(record.host.begin(), record.host.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_' || c == '.';
    }));
  }
  return 0;
}
