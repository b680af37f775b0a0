// Fuzzes the DSN codecs (common/xtext.hpp, common/dsn_parameters.hpp): xtext decoding and
// encoding, and the NOTIFY, RET, ENVID and ORCPT values, whose decoded text ends up in
// reports (a CR or LF there would forge header fields) and in commands to the next hop.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dsn_parameters.hpp"
#include "fuzz_check.hpp"
#include "xtext.hpp"

using namespace missive;
using namespace missive::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = as_text(data, size);
  if (auto decoded = xtext_decode(input)) {
    FUZZ_CHECK(decoded->size() <= input.size());
    // Decoding is the inverse of encoding: what was decoded encodes back to valid xtext
    // that decodes to the same octets.
    auto again = xtext_decode(xtext_encode(*decoded));
    FUZZ_CHECK(again && *again == *decoded);
  }
  // Any octets encode to xtext (printable, no "=", no space) that decodes back.
  std::string encoded = xtext_encode(input);
  FUZZ_CHECK(!has_control(encoded) && all_ascii(encoded));
  FUZZ_CHECK(encoded.find_first_of(" =") == std::string::npos);
  auto back = xtext_decode(encoded);
  FUZZ_CHECK(back && *back == input);

  if (auto notify = parse_notify(input)) {
    FUZZ_CHECK(*notify != 0);
    // NEVER stands alone (RFC 3461 4.1).
    FUZZ_CHECK(!(*notify & dsn_notify::never) || *notify == dsn_notify::never);
    auto again = parse_notify(format_notify(*notify));
    FUZZ_CHECK(again && *again == *notify);
  }
  if (auto envid = parse_envid(input)) {
    FUZZ_CHECK(!has_control(*envid) && all_ascii(*envid));
    FUZZ_CHECK(input.size() <= 100);
  }
  if (auto orcpt = parse_orcpt(input)) {
    FUZZ_CHECK(!has_control(orcpt->address) && all_ascii(orcpt->address));
    FUZZ_CHECK(!orcpt->type.empty() && !has_control(orcpt->type));
    auto again = parse_orcpt(format_orcpt(*orcpt));
    FUZZ_CHECK(again && again->type == orcpt->type && again->address == orcpt->address);
  }
  (void)parse_ret(input);
  return 0;
}
