// Fuzzes the DMARC record parser (server/dmarc/dmarc_record.hpp): a TXT record at
// _dmarc.DOMAIN that any domain owner writes (RFC 7489 6.3, 6.4).
#include <cstddef>
#include <cstdint>

#include "dmarc_record.hpp"
#include "fuzz_check.hpp"

using namespace missive;
using namespace missive::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  auto record = parse_dmarc_record(text);
  if (!record) return 0;
  FUZZ_CHECK(is_dmarc_record(text));
  FUZZ_CHECK(record->percent >= 0 && record->percent <= 100);
  return 0;
}
