// Delivery status notifications (RFC 3464, RFC 6522): the bounce the relay sends to the
// envelope sender when it gives up on recipients. Composed without I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

// A recipient the relay gave up on.
struct failed_recipient {
  std::string address;
  std::string status;       // RFC 3463 code, e.g. "5.1.1" (or "4.4.7" for expiry)
  std::string diagnostic;   // the remote reply or our reason, e.g. "550 5.1.1 No such user"
  bool remote_reply = true; // diagnostic came from the next hop ("smtp;") or from us ("x-missive;")
  std::chrono::system_clock::time_point last_attempt;
};

// Everything a bounce says.
struct bounce_details {
  std::string reporting_mta;          // our host name
  std::string queue_id;               // of the original message
  std::string original_sender;        // envelope sender of the original; the bounce goes here
  std::chrono::system_clock::time_point arrival;  // when we accepted the original
  std::chrono::system_clock::time_point now;
  std::vector<failed_recipient> recipients;
  std::string_view original_message;  // only its header section is returned
  std::string message_id;             // for the bounce's Message-ID, e.g. "<QID.bounce@host>"
  std::string boundary;               // MIME boundary; must not occur in the content
};

// The complete bounce message (CRLF line endings): From MAILER-DAEMON@reporting_mta, To the
// original sender, Auto-Submitted: auto-replied, multipart/report; report-type=delivery-status
// with a human-readable part, a message/delivery-status part (RFC 3464 2.2, 2.3: Reporting-MTA,
// Arrival-Date, and per recipient Final-Recipient, Action: failed, Status, Diagnostic-Code,
// Last-Attempt-Date), and the original headers as text/rfc822-headers. Throws
// std::invalid_argument when `boundary` is not an RFC 2046 5.1.1 boundary (1-70 bchars).
std::string compose_bounce(const bounce_details& details);

}  // namespace missive
