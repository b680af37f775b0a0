// DMARC policy records (RFC 7489 6.3, 6.4): the TXT record at _dmarc.DOMAIN, read without
// I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace missive {

// What a domain asks receivers to do with mail that fails DMARC (RFC 7489 6.3 p=).
enum class dmarc_policy { none, quarantine, reject };

std::string_view policy_name(dmarc_policy policy);

struct dmarc_record {
  dmarc_policy policy = dmarc_policy::none;            // p=
  std::optional<dmarc_policy> subdomain_policy;       // sp=: for names under the domain
  int percent = 100;                                   // pct=: share of failing mail it applies to
  bool strict_dkim = false;                            // adkim=s
  bool strict_spf = false;                             // aspf=s
};

// Whether a TXT record's text is a DMARC record: it starts with "v=DMARC1" (RFC 7489 6.4),
// followed by the end, a space or ';'.
bool is_dmarc_record(std::string_view text);

// Reads a DMARC record; nullopt when it is not one that can be used (RFC 7489 6.6.3: no
// usable p= and no rua=). Unknown tags are ignored (RFC 7489 6.3); a bad value of a known
// optional tag takes its default.
std::optional<dmarc_record> parse_dmarc_record(std::string_view text);

}  // namespace missive
