// The DMARC check of an inbound message (RFC 7489 6.6): whether its From: domain is
// authenticated by an aligned SPF or DKIM pass, and what the domain's policy asks for when it
// is not. The policy decision is a pure function; discovery asks DNS.
#pragma once

#include <asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dkim_verify.hpp"
#include "dmarc_record.hpp"
#include "spf_check.hpp"

namespace missive {

class dns_source;

struct dmarc_result {
  // RFC 8601 2.7.1's words for DMARC (RFC 7489 11.2).
  enum class kind { none, pass, fail, temperror, permerror };
  kind outcome = kind::none;
  std::string from_domain;            // header.from
  std::optional<dmarc_policy> policy; // the policy published for it (p=, or sp= for a subdomain)
  // What to do with the message: the policy for a fail chosen by pct=, none otherwise.
  dmarc_policy disposition = dmarc_policy::none;
  std::string reason;
};

std::string_view result_name(dmarc_result::kind outcome);

// What the check is about.
struct dmarc_evidence {
  std::vector<std::string> from_domains;  // of each From: field's address (one expected)
  spf_result::kind spf = spf_result::kind::none;
  std::string spf_domain;                 // the domain SPF checked (MAIL FROM's, or HELO's)
  std::vector<dkim_result> dkim;
  int sample = 0;  // 0-99, uniformly drawn: the message is subject to pct=N when sample < N
};

// RFC 7489 3.1 and 6.6.2-6.6.4 for a found record: `at_organization` when it was found at the
// organizational domain rather than at the From: domain itself.
dmarc_result evaluate_dmarc(const dmarc_record& record, bool at_organization,
                            const dmarc_evidence& evidence);

// Finds the policy (RFC 7489 6.6.3: _dmarc.FROM, else _dmarc.ORGANIZATIONAL-DOMAIN) and
// evaluates it. A DNS error is temperror.
asio::awaitable<dmarc_result> check_dmarc(dns_source& dns, const dmarc_evidence& evidence);

}  // namespace missive
