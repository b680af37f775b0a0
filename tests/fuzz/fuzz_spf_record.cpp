// Fuzzes the SPF record parser and macro expansion (server/spf): a TXT record any domain owner
// writes (RFC 7208 4.5, 7). Every domain-spec the parser accepts must expand to a name no
// longer than a DNS name may be.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "spf_macro.hpp"
#include "spf_record.hpp"

using namespace missive;
using namespace missive::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = as_text(data, size);
  spf_parse_result parsed = parse_spf_record(text);
  FUZZ_CHECK(parsed.record.has_value() != !parsed.error.empty());
  spf_macro_values values;
  values.sender = "strong-bad@email.example.com";
  values.local_part = "strong-bad";
  values.sender_domain = values.domain = "email.example.com";
  values.client[10] = values.client[11] = 0xff;
  values.helo = "mail.example.com";
  if (parsed.record) {
    for (const auto& m : parsed.record->mechanisms) {
      FUZZ_CHECK(m.ip4_prefix >= 0 && m.ip4_prefix <= 32 && m.ip6_prefix >= 0 && m.ip6_prefix <= 128);
      if (m.domain_spec.empty()) continue;
      FUZZ_CHECK(valid_domain_spec(m.domain_spec));
      std::string name = target_name(expand_macros(m.domain_spec, values, macro_use::domain_spec));
      // RFC 7208 4.8: cut to 253 octets, unless it has no dot left to cut at (the lookup
      // refuses such a name).
      FUZZ_CHECK(name.size() <= 253 || name.find('.') == std::string::npos);
    }
  }
  // The same text as an explanation (RFC 7208 6.2): any text may come back from DNS.
  if (valid_macro_string(text, macro_use::explanation)) {
    std::string expanded = expand_macros(text, values, macro_use::explanation);
    FUZZ_CHECK(!expanded.empty() || text.empty());
  }
  return 0;
}
