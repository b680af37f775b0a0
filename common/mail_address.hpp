// Mail addresses as they appear in SMTP paths (RFC 5321 4.1.2), parsed without I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ascii.hpp"

namespace missive {

// A mailbox: local part and domain, exactly as the client wrote them (quotes removed
// from a quoted local part). An empty local part and domain is the null path <>.
struct mail_address {
  std::string local_part;
  std::string domain;

  // Whether this is the null reverse-path <> (RFC 5321 4.5.5).
  bool is_null() const { return local_part.empty() && domain.empty(); }
  // The address as "local@domain", re-quoting the local part when it needs quotes; "" for <>.
  std::string str() const;
};

// Why a path was refused.
enum class address_error {
  none,
  syntax,               // not a valid RFC 5321 Path
  local_part_too_long,  // RFC 5321 4.5.3.1.1
  domain_too_long,      // RFC 5321 4.5.3.1.2
  path_too_long,        // RFC 5321 4.5.3.1.3
  non_ascii,            // 8-bit octets without SMTPUTF8 (RFC 6531 3.2)
  null_not_allowed,     // <> where a forward-path is required
};

// The outcome of parsing a path: an address, or the reason it was refused.
struct parsed_path {
  mail_address address;
  address_error error = address_error::none;
  // Octets of the input consumed, up to and including the closing '>'.
  std::size_t consumed = 0;
};

// What a path parser accepts.
struct path_options {
  bool allow_null = false;  // <> is the valid reverse-path of bounces
  bool allow_utf8 = false;  // SMTPUTF8 was given on MAIL FROM (RFC 6531)
};

// Parses a Path "<[@route,@route:]local@domain>" at the start of `text` (RFC 5321 4.1.2).
// A source route is accepted and dropped (RFC 5321 4.1.1.3, appendix C). The domain may be
// a name or an address literal ("[192.0.2.1]", "[IPv6:...]").
parsed_path parse_path(std::string_view text, path_options options);

// Parses a bare "local@domain" (no angle brackets), as users type them on command lines.
parsed_path parse_address(std::string_view text, bool allow_utf8 = true);

}  // namespace missive
