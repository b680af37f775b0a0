// The Authentication-Results field (RFC 8601) this relay adds to inbound mail, and the removal
// of any that claims to be ours before it (RFC 8601 5), without I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dkim_verify.hpp"
#include "dmarc_check.hpp"
#include "spf_check.hpp"

namespace missive {

// What the checks of one inbound message found; a method not checked is left out.
struct authentication_findings {
  std::optional<spf_result> spf_helo;       // RFC 7208 2.3
  std::string helo;
  std::optional<spf_result> spf_mail_from;  // RFC 7208 2.4 (not for the null sender)
  std::string mail_from;
  std::optional<std::vector<dkim_result>> dkim;
  std::optional<dmarc_result> dmarc;
};

// "Authentication-Results: HOST;\r\n\tspf=pass smtp.mailfrom=…;\r\n\tdkim=pass header.d=…
// header.s=… header.b=…;\r\n\tdmarc=pass header.from=…\r\n": one result per SPF identity
// and per DKIM signature ("dkim=none" for a message without any), RFC 8601 2.7.
std::string authentication_results(std::string_view authserv_id,
                                   const authentication_findings& findings);

// Whether `message`'s header section has an Authentication-Results field whose authserv-id is
// `authserv_id` (any case): a forgery, or a relay of ours seen again.
bool has_results_of(std::string_view message, std::string_view authserv_id);

// `message` without those fields (the rest byte for byte).
std::string without_results_of(std::string_view message, std::string_view authserv_id);

}  // namespace missive
