// Fuzzes the mail address parsers (common/mail_address.hpp): RFC 5321 paths as MAIL and RCPT
// carry them, and bare addresses as users type them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "limits.hpp"
#include "mail_address.hpp"

using namespace missive;
using namespace missive::fuzz;

namespace {

// What any accepted address must be: within the RFC 5321 4.5.3.1 limits, free of control
// octets (they would reach Received: lines, logs and bounces), ASCII unless UTF-8 was allowed.
void check_address(const mail_address& address, bool allow_utf8) {
  FUZZ_CHECK(address.local_part.size() <= limits::local_part);
  FUZZ_CHECK(address.domain.size() <= limits::domain);
  FUZZ_CHECK(!has_control(address.local_part) && !has_control(address.domain));
  if (!allow_utf8) FUZZ_CHECK(all_ascii(address.local_part) && all_ascii(address.domain));
}

void check_path(std::string_view text, path_options options) {
  const parsed_path path = parse_path(text, options);
  FUZZ_CHECK(path.consumed <= text.size());
  if (path.error != address_error::none) return;
  FUZZ_CHECK(path.consumed >= 2 && text.front() == '<' && text[path.consumed - 1] == '>');
  FUZZ_CHECK(path.consumed <= limits::path);
  check_address(path.address, options.allow_utf8);
  if (path.address.is_null()) {
    FUZZ_CHECK(options.allow_null && path.consumed == 2);
    return;
  }
  // A quoted local part may be empty (<""@example.test>); the domain never is.
  FUZZ_CHECK(!path.address.domain.empty());
  // Round trip: the address written out (str() re-quotes what needs it) parses back to
  // itself; this is what the relay sends to the next hop.
  const std::string written = "<" + path.address.str() + ">";
  const parsed_path again = parse_path(written, options);
  FUZZ_CHECK(again.error == address_error::none);
  FUZZ_CHECK(again.consumed == written.size());
  FUZZ_CHECK(again.address.local_part == path.address.local_part);
  FUZZ_CHECK(again.address.domain == path.address.domain);
}

void check_bare(std::string_view text, bool allow_utf8) {
  const parsed_path parsed = parse_address(text, allow_utf8);
  if (parsed.error != address_error::none) return;
  FUZZ_CHECK(parsed.consumed == text.size());
  check_address(parsed.address, allow_utf8);
  FUZZ_CHECK(!parsed.address.domain.empty());
  const parsed_path again = parse_address(parsed.address.str(), allow_utf8);
  FUZZ_CHECK(again.error == address_error::none);
  FUZZ_CHECK(again.address.local_part == parsed.address.local_part);
  FUZZ_CHECK(again.address.domain == parsed.address.domain);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  for (bool allow_null : {false, true}) {
    for (bool allow_utf8 : {false, true}) check_path(text, {allow_null, allow_utf8});
  }
  check_bare(text, false);
  check_bare(text, true);
  return 0;
}
