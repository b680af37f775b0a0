// Delivery status notifications (RFC 3464, RFC 6522): what the relay tells the envelope
// sender when it gives up on recipients (the bounce), and, as the DSN extension asks (RFC
// 3461), when mail is late, delivered, or relayed to a next hop that will not report.
// Composed without I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

// RFC 3464 2.3.3: the action a DSN reports for a recipient.
enum class dsn_action { failed, delayed, delivered, relayed };

// A recipient a DSN reports on.
struct failed_recipient {
  std::string address;
  std::string status;       // RFC 3463 code, e.g. "5.1.1" (or "4.4.7" for expiry)
  std::string diagnostic;   // the remote reply or our reason, e.g. "550 5.1.1 No such user"
  bool remote_reply = true; // diagnostic came from the next hop ("smtp;") or from us ("x-missive;")
  std::chrono::system_clock::time_point last_attempt;
  dsn_action action = dsn_action::failed;
  std::string original_recipient;  // RCPT ORCPT=, decoded, "type;address"; "" when none
};
// The same, by the name that says what it is in every DSN.
using dsn_recipient = failed_recipient;

// Everything a bounce says.
struct bounce_details {
  std::string reporting_mta;          // our host name
  std::string queue_id;               // of the original message
  std::string original_sender;        // envelope sender of the original; the bounce goes here
  std::chrono::system_clock::time_point arrival;  // when we accepted the original
  std::chrono::system_clock::time_point now;
  std::vector<failed_recipient> recipients;
  // The original message: its header section is returned, or all of it when return_full.
  std::string_view original_message;
  // RET=FULL (RFC 3461 4.3): a DSN reporting failures returns the whole message as
  // message/rfc822; any other DSN, and any without RET=FULL, returns the headers only.
  bool return_full = false;
  std::string envid;                  // MAIL ENVID=, decoded; "" when none was given
  std::string message_id;             // for the bounce's Message-ID, e.g. "<QID.bounce@host>"
  std::string boundary;               // MIME boundary; must not occur in the content
};

// The complete DSN (CRLF line endings): From MAILER-DAEMON@reporting_mta, To the original
// sender, Auto-Submitted: auto-replied, multipart/report; report-type=delivery-status with a
// human-readable part, a message/delivery-status part (RFC 3464 2.2, 2.3: Original-Envelope-Id,
// Reporting-MTA, Arrival-Date, and per recipient Original-Recipient, Final-Recipient, Action,
// Status, Diagnostic-Code, Last-Attempt-Date), and the original headers as
// text/rfc822-headers (or the whole original as message/rfc822, see return_full). The
// subject and the text follow the first recipient's action: a DSN reports one kind. Throws
// std::invalid_argument when `boundary` is not an RFC 2046 5.1.1 boundary (1-70 bchars).
std::string compose_bounce(const bounce_details& details);

}  // namespace missive
