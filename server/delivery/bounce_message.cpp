// Delivery status notifications: see bounce_message.hpp.
#include "bounce_message.hpp"

#include <algorithm>
#include <cstddef>
#include <stdexcept>

#include "limits.hpp"
#include "message_headers.hpp"

namespace missive {
namespace {

// RFC 5322 2.1.1: lines SHOULD be at most 78 characters and MUST be at most 998.
constexpr std::size_t fold_width = 78;
constexpr std::size_t max_line = 998;
// A word longer than this (no space to fold at) is cut into pieces of this size, so a line
// of indentation and one piece stays within max_line.
constexpr std::size_t max_piece = 900;
// A remote reply is bounded by the reply parser; this bounds what one bounce repeats of it.
constexpr std::size_t max_diagnostic = 4096;
// RFC 2046 5.1.1: a boundary is 1 to 70 characters.
constexpr std::size_t max_boundary = 70;

// `text` (which may hold any octets a remote server sent) made safe for one header field or
// line of a 7-bit message: CR, LF, HTAB and runs of spaces become one space, other control
// characters are dropped, octets above 127 become '?', and at most `limit` octets remain.
std::string safe_text(std::string_view text, std::size_t limit) {
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    auto octet = static_cast<unsigned char>(c);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = !out.empty();
      continue;
    }
    if (octet < 0x20 || octet == 0x7F) continue;
    if (pending_space) out += ' ';
    pending_space = false;
    out += octet > 0x7F ? '?' : c;
  }
  if (out.size() > limit) {
    out.resize(limit - 3);
    out += "...";
  }
  return out;
}

// Appends one logical line: `first` (e.g. "Diagnostic-Code:", never cut) and the words of
// `text` (single spaces, as safe_text leaves them), folded before a word that would pass
// fold_width onto a new line starting with `indent`, then CRLF. For a header field the
// indent is one space, so unfolding (RFC 5322 2.2.3) gives back the text; a word longer
// than max_piece is cut, the one case where unfolding adds a space.
void append_folded(std::string& out, std::string_view first, std::string_view text,
                   std::string_view indent) {
  out += first;
  std::size_t line_length = first.size();
  bool line_has_words = !first.empty();
  auto place = [&](std::string_view word) {
    if (line_has_words && line_length + 1 + word.size() > fold_width) {
      out += "\r\n";
      out += indent;
      line_length = indent.size();
      line_has_words = false;
    }
    if (line_has_words) {
      out += ' ';
      ++line_length;
    }
    out += word;
    line_length += word.size();
    line_has_words = true;
  };
  while (!text.empty()) {
    auto space = text.find(' ');
    auto word = text.substr(0, space);
    text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
    for (; word.size() > max_piece; word.remove_prefix(max_piece)) place(word.substr(0, max_piece));
    if (!word.empty()) place(word);
  }
  out += "\r\n";
}

// Appends a header field (or a DSN field: RFC 3464 2.1.1 uses the same syntax).
void append_field(std::string& out, std::string_view name, std::string_view value) {
  append_folded(out, std::string(name) + ":", value, " ");
}

// Whether `status` is an RFC 3463 status code as RFC 3464 2.3.4 takes it:
// class "." subject "." detail, class 2, 4 or 5, subject and detail 1 to 3 digits.
bool valid_status(std::string_view status) {
  if (status.size() < 5 || (status[0] != '2' && status[0] != '4' && status[0] != '5') ||
      status[1] != '.')
    return false;
  auto digits = [](std::string_view part) {
    return !part.empty() && part.size() <= 3 &&
           std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  auto rest = status.substr(2);
  auto dot = rest.find('.');
  return dot != std::string_view::npos && digits(rest.substr(0, dot)) &&
         digits(rest.substr(dot + 1));
}

// RFC 2046 5.1.1: bcharsnospace, plus inner spaces.
bool valid_boundary(std::string_view boundary) {
  if (boundary.empty() || boundary.size() > max_boundary || boundary.back() == ' ') return false;
  return std::all_of(boundary.begin(), boundary.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
  });
}

bool has_8bit(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) > 0x7F; });
}

// The kind of DSN: that of its first recipient (a DSN reports one kind).
dsn_action kind_of(const bounce_details& details) {
  return details.recipients.empty() ? dsn_action::failed : details.recipients.front().action;
}

// RFC 3464 2.3.3: the Action field's value.
std::string_view action_name(dsn_action action) {
  switch (action) {
    case dsn_action::failed: return "failed";
    case dsn_action::delayed: return "delayed";
    case dsn_action::delivered: return "delivered";
    case dsn_action::relayed: return "relayed";
  }
  return "failed";
}

// The status written when the caller's is malformed: the action's class, nothing more.
std::string_view fallback_status(dsn_action action) {
  switch (action) {
    case dsn_action::failed: return "5.0.0";
    case dsn_action::delayed: return "4.0.0";
    case dsn_action::delivered:
    case dsn_action::relayed: return "2.0.0";
  }
  return "5.0.0";
}

std::string_view subject_of(dsn_action action) {
  switch (action) {
    case dsn_action::failed: return "Undelivered Mail Returned to Sender";
    case dsn_action::delayed: return "Delayed Mail (still being retried)";
    case dsn_action::delivered:
    case dsn_action::relayed: return "Successful Mail Delivery Report";
  }
  return "Undelivered Mail Returned to Sender";
}

// Whether the whole original goes back (RFC 3461 4.3: RET=FULL, for failures).
bool returns_full(const bounce_details& details) {
  return details.return_full && kind_of(details) == dsn_action::failed;
}

// What the first paragraph says of the recipients below.
std::string summary_of(const bounce_details& details) {
  const std::string attached = returns_full(details)
                                   ? "The delivery report and your message are attached."
                                   : "The delivery report and the headers of your message are "
                                     "attached.";
  switch (kind_of(details)) {
    case dsn_action::failed:
      return "Your message could not be delivered to the recipients below. " + attached;
    case dsn_action::delayed:
      return "Your message could not be delivered yet to the recipients below. Delivery will "
             "be tried again; you need not send it again. " + attached;
    case dsn_action::delivered:
      return "Your message was delivered to the recipients below. " + attached;
    case dsn_action::relayed:
      return "Your message was passed on for the recipients below to a mail server that "
             "will not report on its delivery. " + attached;
  }
  return attached;
}

// Part 1: what a person reads.
void append_human_part(std::string& out, const bounce_details& details, std::string_view host) {
  append_folded(out, "", "This is the mail delivery system at " + std::string(host) + ".", "");
  out += "\r\n";
  append_folded(out, "", summary_of(details), "");
  if (!details.queue_id.empty())
    append_folded(out, "", "Queue ID: " + safe_text(details.queue_id, max_piece), "");
  out += "\r\n";
  for (const auto& recipient : details.recipients) {
    auto diagnostic = safe_text(recipient.diagnostic, max_diagnostic);
    if (diagnostic.empty()) diagnostic = "(no reason given)";
    std::string line = "<" + safe_text(recipient.address, limits::path) + ">: ";
    if (recipient.remote_reply) line += "the next mail server answered: ";
    append_folded(out, "", line + diagnostic, "    ");
  }
}

// Part 2: RFC 3464 2.2 per-message fields, then 2.3 fields per recipient, each group
// after an empty line.
void append_status_part(std::string& out, const bounce_details& details, std::string_view host) {
  // RFC 3464 2.2.1: the envelope id, decoded from ENVID's xtext (RFC 3461 6.3), first.
  if (!details.envid.empty())
    append_field(out, "Original-Envelope-Id", safe_text(details.envid, max_piece));
  append_field(out, "Reporting-MTA", "dns; " + std::string(host));
  if (!details.queue_id.empty())
    append_field(out, "X-Missive-Queue-ID", safe_text(details.queue_id, max_piece));
  append_field(out, "Arrival-Date", format_rfc5322_date(details.arrival));
  for (const auto& recipient : details.recipients) {
    out += "\r\n";
    // RFC 3464 2.3.1: the ORCPT the client gave, decoded (RFC 3461 6.3), "type;address".
    if (!recipient.original_recipient.empty()) {
      append_field(out, "Original-Recipient", safe_text(recipient.original_recipient, max_piece));
    }
    append_field(out, "Final-Recipient", "rfc822; " + safe_text(recipient.address, limits::path));
    append_field(out, "Action", action_name(recipient.action));
    // A malformed code from a caller still yields a well-formed report.
    append_field(out, "Status", valid_status(recipient.status)
                                    ? std::string_view(recipient.status)
                                    : fallback_status(recipient.action));
    // RFC 3464 2.3.6: diagnostic-type "smtp" for an SMTP reply; ours is an X- type.
    auto diagnostic = safe_text(recipient.diagnostic, max_diagnostic);
    if (!diagnostic.empty())
      append_field(out, "Diagnostic-Code",
                   (recipient.remote_reply ? "smtp; " : "x-missive; ") + diagnostic);
    append_field(out, "Last-Attempt-Date", format_rfc5322_date(recipient.last_attempt));
  }
}

}  // namespace

std::string compose_bounce(const bounce_details& details) {
  if (!valid_boundary(details.boundary))
    throw std::invalid_argument("compose_bounce: invalid MIME boundary");
  const std::string host = safe_text(details.reporting_mta, limits::domain);
  const bool full = returns_full(details);
  const std::string_view original_headers = header_section(details.original_message);
  const std::string_view returned = full ? details.original_message : original_headers;
  // The original goes back as it is; 8-bit (RFC 6532 headers, 8BITMIME bodies) is labelled
  // so (RFC 2045 6.4: the multipart around it must say so too).
  const bool eight_bit = has_8bit(returned);
  const std::string delimiter = "--" + details.boundary;

  std::string out;
  append_field(out, "From", "Mail Delivery System <MAILER-DAEMON@" + host + ">");
  append_field(out, "To", safe_text(details.original_sender, limits::path));
  append_field(out, "Subject", subject_of(kind_of(details)));
  append_field(out, "Date", format_rfc5322_date(details.now));
  append_field(out, "Message-ID", safe_text(details.message_id, max_piece));
  append_field(out, "Auto-Submitted", "auto-replied");  // RFC 3834 5: no auto-reply to this
  append_field(out, "MIME-Version", "1.0");
  // One line whatever fold_width says: a boundary has at most 70 characters and may hold
  // spaces, which must not be folded.
  out += "Content-Type: multipart/report; report-type=delivery-status; boundary=\"" +
         details.boundary + "\"\r\n";
  if (eight_bit) out += "Content-Transfer-Encoding: 8bit\r\n";
  out += "\r\n";
  out += "This is a MIME-encapsulated message.\r\n\r\n";

  out += delimiter + "\r\n";
  out += "Content-Type: text/plain; charset=us-ascii\r\n";
  out += "Content-Description: Notification\r\n\r\n";
  append_human_part(out, details, host);

  out += delimiter + "\r\n";
  out += "Content-Type: message/delivery-status\r\n";
  out += "Content-Description: Delivery report\r\n\r\n";
  append_status_part(out, details, host);

  out += delimiter + "\r\n";
  if (full) {
    // RFC 3464 2.4 / RFC 6522 3: the returned message, whole.
    out += "Content-Type: message/rfc822\r\n";
    if (eight_bit) out += "Content-Transfer-Encoding: 8bit\r\n";
    out += "Content-Description: Undelivered Message\r\n\r\n";
  } else {
    out += "Content-Type: text/rfc822-headers\r\n";
    if (eight_bit) out += "Content-Transfer-Encoding: 8bit\r\n";
    out += kind_of(details) == dsn_action::failed
               ? "Content-Description: Undelivered Message Headers\r\n\r\n"
               : "Content-Description: Message Headers\r\n\r\n";
  }
  out += returned;
  if (returned.empty()) out += "\r\n";  // an empty body, not a missing one
  // The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
  if (!returned.empty() && !returned.ends_with("\r\n")) out += "\r\n";
  out += delimiter + "--\r\n";
  return out;
}

}  // namespace missive
