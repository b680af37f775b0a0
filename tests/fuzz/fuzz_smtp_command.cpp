// Fuzzes the SMTP command line codec (common/smtp_command.hpp): the verb split, the MAIL FROM
// and RCPT TO argument parsers with and without SMTPUTF8, and the AUTH PLAIN initial response
// (base64.hpp, sasl_plain.hpp) that an AUTH line carries.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base64.hpp"
#include "fuzz_check.hpp"
#include "limits.hpp"
#include "sasl_plain.hpp"
#include "smtp_command.hpp"

using namespace missive;
using namespace missive::fuzz;

namespace {

// An address the relay accepted: within the RFC 5321 4.5.3.1 limits, and never carrying a
// control octet (CR, LF, NUL would end up in Received: lines, logs and bounces).
void check_accepted(const mail_address& address, bool utf8) {
  FUZZ_CHECK(address.local_part.size() <= limits::local_part);
  FUZZ_CHECK(address.domain.size() <= limits::domain);
  FUZZ_CHECK(!has_control(address.local_part) && !has_control(address.domain));
  if (!utf8) FUZZ_CHECK(all_ascii(address.local_part) && all_ascii(address.domain));
}

void check_mail_from(std::string_view argument) {
  auto args = parse_mail_from(argument);
  FUZZ_CHECK((args.error == smtp_argument_error::address) ==
             (args.address_problem != address_error::none &&
              args.error != smtp_argument_error::syntax));
  if (args.error != smtp_argument_error::none) return;
  check_accepted(args.sender, args.smtputf8);
  // Nothing accepted may carry a control octet anywhere: not in the path, not in a
  // parameter's value (SIZE=, BODY=, AUTH=, ...).
  FUZZ_CHECK(!has_control(argument));
}

void check_rcpt_to(std::string_view argument) {
  auto ascii = parse_rcpt_to(argument, false);
  auto utf8 = parse_rcpt_to(argument, true);
  if (ascii.error == smtp_argument_error::none) {
    check_accepted(ascii.recipient, false);
    FUZZ_CHECK(!has_control(argument));
    // SMTPUTF8 only widens what is accepted, and never changes the address.
    FUZZ_CHECK(utf8.error == smtp_argument_error::none);
    FUZZ_CHECK(utf8.recipient.local_part == ascii.recipient.local_part);
    FUZZ_CHECK(utf8.recipient.domain == ascii.recipient.domain);
  }
  // A quoted local part may be empty (<""@example.test>, RFC 5321 4.1.2), so nothing more.
  if (utf8.error == smtp_argument_error::none) check_accepted(utf8.recipient, true);
}

// AUTH PLAIN's initial response: base64 of "authzid NUL authcid NUL password" (RFC 4616 2).
void check_sasl(std::string_view text) {
  if (auto decoded = base64_decode(text)) {
    // Encoding what was decoded and decoding again gives the same octets.
    auto again = base64_decode(base64_encode(*decoded));
    FUZZ_CHECK(again && *again == *decoded);
  }
  if (auto credentials = decode_sasl_plain(text)) {
    FUZZ_CHECK(!credentials->authcid.empty() && !credentials->password.empty());
    auto nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
    FUZZ_CHECK(!nul(credentials->authzid) && !nul(credentials->authcid) &&
               !nul(credentials->password));
    std::string message = credentials->authzid + '\0' + credentials->authcid + '\0' +
                          credentials->password;
    auto again = decode_sasl_plain(base64_encode(message));
    FUZZ_CHECK(again && again->authzid == credentials->authzid &&
               again->authcid == credentials->authcid && again->password == credentials->password);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line = as_text(data, size);

  const smtp_command command = parse_smtp_command(line);
  FUZZ_CHECK(within(command.argument, line));
  FUZZ_CHECK(command.has_argument || command.argument.empty());

  // The argument parsers see what the session gives them (the argument of a MAIL or RCPT
  // line) and, so a corpus of bare arguments works too, the input itself.
  check_mail_from(command.argument);
  check_mail_from(line);
  check_rcpt_to(command.argument);
  check_rcpt_to(line);

  if (command.verb == smtp_verb::auth) {
    auto rest = command.argument;
    auto space = rest.find(' ');
    check_sasl(space == std::string_view::npos ? std::string_view() : rest.substr(space + 1));
  }
  check_sasl(line);
  return 0;
}
