// The queue's vocabulary, shared by everything that handles mail: a message being stored,
// claimed recipients, attempt results and what became of each recipient. Plain values: no
// storage, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dsn_parameters.hpp"
#include "retry_schedule.hpp"

namespace missive {

// An envelope recipient of a message being stored.
struct incoming_recipient {
  incoming_recipient() = default;
  // Spelled out so that {address, is_local} still says all a plain recipient needs.
  incoming_recipient(std::string address_, bool is_local_, std::string mailbox_ = {},
                     std::string sender_ = {})
      : address(std::move(address_)), is_local(is_local_), mailbox(std::move(mailbox_)),
        sender(std::move(sender_)) {}

  std::string address;
  bool is_local = false;
  // A local recipient's user, when not `address` itself (a subaddress: alice+tag@d is
  // delivered to alice@d, the tag kept in `address`); empty otherwise.
  std::string mailbox;
  // A remote recipient's envelope sender, when not the message's (forwarded through an
  // alias: the SRS address); empty otherwise.
  std::string sender;
  std::uint8_t notify = 0;  // RCPT NOTIFY= as dsn_notify flags; 0: none given (RFC 3461 4.1)
  std::string orcpt;        // RCPT ORCPT= decoded, "type;address"; "" when none was given
};

// A message an SMTP session hands over. It is stored as trace_headers followed by body,
// written in place, so a large body is never copied to put the headers in front.
struct incoming_message {
  std::string queue_id;
  std::string sender;  // "" for the null reverse-path
  std::string client;  // who sent it: "helo-name [address]"
  std::string trace_headers;  // the headers this relay adds (Received:, ...)
  std::string body;
  std::vector<incoming_recipient> recipients;
  dsn_return ret = dsn_return::unspecified;  // MAIL RET= (RFC 3461 4.3)
  std::string envid;                         // MAIL ENVID= decoded; "" when none was given
};

// A message in a POP3 maildrop.
struct maildrop_entry {
  std::int64_t id = 0;
  std::string uid;
  std::uint64_t size = 0;
};

// A logged-in user.
struct user_identity {
  std::int64_t id = 0;
  std::string address;
};

// What the queue needs to know of the relay to retry and bounce.
struct queue_policy {
  std::string hostname;                    // Reporting-MTA of bounces
  std::vector<std::string> local_domains;  // a bounce to these is delivered locally
  retry_policy retry;
};

// A remote recipient claimed for delivery.
struct remote_recipient {
  std::int64_t id = 0;
  std::int64_t message_id = 0;
  std::string queue_id;
  std::string sender;             // the recipient's own (SRS) if it has one, else the message's
  std::string address;
  std::int64_t attempts = 0;     // before this one
  std::int64_t received_at = 0;  // unix seconds
  // DSN (RFC 3461): the recipient's NOTIFY flags and ORCPT, the message's RET and ENVID,
  // and whether its sender was already told it is late.
  std::uint8_t notify = 0;
  std::string orcpt;
  dsn_return ret = dsn_return::unspecified;
  std::string envid;
  bool delay_warned = false;
};

// How a delivery attempt ended for one recipient (RFC 5321 4.2.1: by the reply's first digit).
enum class attempt_fate { delivered, retry, permanent };

// What happened to one remote recipient in one attempt.
struct attempt_result {
  remote_recipient recipient;
  attempt_fate fate = attempt_fate::retry;
  std::string reply;  // the next hop's reply, or our reason ("connect to ...: refused")
  std::string relay;  // "host[addr]:port", or "none"
  // The next hop speaks DSN (RFC 3461) and got NOTIFY and ORCPT: reporting success is its job.
  bool dsn_passed_on = false;
};

// What became of one recipient, for the log line (Postfix style).
struct delivery_outcome {
  std::string queue_id;
  std::string recipient;
  std::string relay;             // "local" or "host[addr]:port"; for "notified", the kind of
                                 // a DSN that is not a bounce (delay_notified, ...), else ""
  // "sent", "deferred", "bounced" or "expired"; "notified" when the sender was sent a DSN,
  // whose queue id is then the detail
  std::string status;
  std::int64_t delay_seconds = 0;  // since the message arrived
  std::int64_t attempts = 0;
  std::string detail;
};

// The queue's pending recipients by state and its oldest due message, counted by the store
// when the metrics are scraped.
struct queue_counts {
  std::int64_t queued = 0;    // pending, never tried
  std::int64_t deferred = 0;  // pending, tried and waiting for a retry
  std::int64_t sending = 0;   // claimed by a delivery under way
  // When the oldest message with a recipient due (and not being delivered) arrived, unix
  // seconds; none when nothing is due.
  std::optional<std::int64_t> oldest_due_received_at;
};

// A user's stored credentials, for checking a login.
struct user_credentials {
  std::int64_t id = 0;
  std::string address;        // as it was added
  std::string password_hash;  // $scrypt$... (password_hash.hpp)
};

// One recipient of a queued message, as `missived queue list` and `queue show` print it.
struct recipient_status {
  std::string address;
  std::string state;  // queued, deferred, sending (claimed by a delivery), delivered, failed
  std::int64_t attempts = 0;
  std::optional<std::int64_t> next_attempt_at;  // unix seconds, while pending
  std::optional<std::string> last_reply;
};

// A message in the queue: who sent it, when, how big, and its recipients.
struct message_summary {
  std::string queue_id;
  std::string sender;
  std::int64_t received_at = 0;  // unix seconds
  std::int64_t size = 0;
  std::vector<recipient_status> recipients;
};

// One event of a message's history (accepted, delivered, deferred, failed, bounced, ...).
struct history_event {
  std::int64_t at = 0;  // unix seconds
  std::string kind;
  std::optional<std::string> recipient;  // none for events of the whole message
  std::string detail;
};

// Everything `missived queue show` tells of a message.
struct message_story {
  message_summary summary;
  std::string client;               // helo name and address of the submitting client
  std::vector<history_event> events;
  std::string headers;              // the header section, "" once the body is freed
};

}  // namespace missive
