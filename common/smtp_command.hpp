// SMTP command lines (RFC 5321 4.1) parsed into verbs and arguments, without I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dsn_parameters.hpp"
#include "mail_address.hpp"

namespace missive {

// The verbs the SMTP server knows; `unknown` for anything else.
enum class smtp_verb { helo, ehlo, mail, rcpt, data, rset, noop, quit, vrfy, expn, help,
                       starttls, auth, bdat, unknown };

// The verb as a client writes it ("MAIL"); "UNKNOWN" for smtp_verb::unknown.
std::string_view smtp_verb_name(smtp_verb verb);

// A command line split into its verb and the rest of the line.
struct smtp_command {
  smtp_verb verb = smtp_verb::unknown;
  // Everything after the verb and the single space that follows it; "" when none.
  std::string_view argument;
  // Whether a space separated the verb from the argument (so "MAILFROM:" is not MAIL).
  bool has_argument = false;
};

// Splits a command line (without its CRLF) into verb and argument. Verbs are
// case-insensitive (RFC 5321 2.4).
smtp_command parse_smtp_command(std::string_view line);

// The BODY= parameter of MAIL FROM (RFC 6152).
enum class body_type { unspecified, seven_bit, eight_bit_mime };

// Why MAIL FROM or RCPT TO arguments were refused.
enum class smtp_argument_error {
  none,
  syntax,             // missing "FROM:"/"TO:" or a malformed path: 501
  address,            // see `address_error`
  unknown_parameter,  // a parameter no extension we offer defines: 555
  bad_parameter,      // a known parameter with a malformed value: 501
};

// The parsed arguments of MAIL FROM (RFC 5321 4.1.1.2 and the extensions we offer).
struct mail_from_arguments {
  mail_address sender;
  std::optional<std::uint64_t> size;  // SIZE= (RFC 1870)
  body_type body = body_type::unspecified;
  bool smtputf8 = false;              // SMTPUTF8 (RFC 6531)
  dsn_return ret = dsn_return::unspecified;  // RET= (RFC 3461 4.3)
  std::optional<std::string> envid;   // ENVID= (RFC 3461 4.4), xtext decoded
  smtp_argument_error error = smtp_argument_error::none;
  address_error address_problem = address_error::none;
};

// Parses the argument of MAIL ("FROM:<path> [params]"). "FROM:" is case-insensitive; one
// optional space after the colon is tolerated, as many clients send it.
mail_from_arguments parse_mail_from(std::string_view argument);

// The parsed arguments of RCPT TO (RFC 5321 4.1.1.3).
struct rcpt_to_arguments {
  mail_address recipient;
  std::uint8_t notify = 0;                 // NOTIFY= (RFC 3461 4.1) as dsn_notify flags
  std::optional<original_recipient> orcpt;  // ORCPT= (RFC 3461 4.2), xtext decoded
  smtp_argument_error error = smtp_argument_error::none;
  address_error address_problem = address_error::none;
};

// Parses the argument of RCPT ("TO:<path> [params]"); `smtputf8` says whether the
// transaction's MAIL FROM carried SMTPUTF8. The parameters offered are DSN's NOTIFY and
// ORCPT (RFC 3461); any other is `unknown_parameter`. "<Postmaster>" without a domain is accepted (RFC 5321
// 4.1.1.3) and has an empty domain.
rcpt_to_arguments parse_rcpt_to(std::string_view argument, bool smtputf8);

}  // namespace missive
