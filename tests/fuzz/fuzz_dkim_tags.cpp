// Fuzzes DKIM's tag=value parser (server/dkim/dkim_tags.hpp): the DKIM-Signature field of any
// inbound message, and the key record any domain publishes (RFC 6376 3.2, 3.5, 3.6.1).
#include <cstddef>
#include <cstdint>

#include "dkim_tags.hpp"
#include "fuzz_check.hpp"

using namespace missive;
using namespace missive::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  parse_dkim_tags(text);
  parsed_dkim_signature signature = parse_dkim_signature(text);
  FUZZ_CHECK(signature.tags.has_value() != !signature.error.empty());
  if (signature.tags) {
    FUZZ_CHECK(!signature.tags->domain.empty() && !signature.tags->selector.empty());
    FUZZ_CHECK(!signature.tags->header_names.empty());
  }
  parse_dkim_key_record(text);
  return 0;
}
