// The Authentication-Results field (RFC 8601) this relay adds to inbound mail, and the removal
// of any that claims to be ours before it (RFC 8601 5), without I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dkim_verify.hpp"

namespace missive {

// "Authentication-Results: HOST;\r\n\tdkim=pass header.d=… header.s=… header.b=…\r\n", one
// result per signature; "dkim=none" for a message without any.
std::string authentication_results(std::string_view authserv_id,
                                   const std::vector<dkim_result>& dkim);

// Whether `message`'s header section has an Authentication-Results field whose authserv-id is
// `authserv_id` (any case): a forgery, or a relay of ours seen again.
bool has_results_of(std::string_view message, std::string_view authserv_id);

// `message` without those fields (the rest byte for byte).
std::string without_results_of(std::string_view message, std::string_view authserv_id);

}  // namespace missive
