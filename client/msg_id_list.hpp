// Message identifiers in Message-ID, In-Reply-To and References fields (RFC 5322 3.6.4),
// read without I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace missive::client {

// The msg-ids of a field value, in order, without their angle brackets: each "<...>" (CFWS
// and anything between them ignored, as obsolete forms put phrases there, RFC 5322 4.5.4).
std::vector<std::string> parse_msg_ids(std::string_view value);

}  // namespace missive::client
