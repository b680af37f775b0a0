// The scheduler's decision after delivery attempts, as pure code: from what each next hop
// answered, the retry policy and the time, what becomes of each recipient (delivered,
// deferred until a time, failed, expired) and which messages owe their sender a DSN. The
// store records the decision in one transaction (mail_store::record_decision); nothing
// here touches storage, a socket or the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bounce_message.hpp"
#include "queue_types.hpp"
#include "retry_schedule.hpp"

namespace missive {

// A recipient given up on, as its DSN reports it (RFC 3464 2.3).
struct given_up {
  std::string address;
  std::string status;      // RFC 3463 status, "5.1.1"
  std::string diagnostic;  // the next hop's reply, or our reason
  bool remote_reply = true;  // whether `diagnostic` is a reply from a remote host
  dsn_action action = dsn_action::failed;  // what the DSN reports (RFC 3464 2.3.3)
  std::string original_recipient;          // ORCPT, "type;address"; "" when none was given
};

// What the store writes for one recipient.
struct recipient_decision {
  std::int64_t recipient_id = 0;
  std::int64_t message_id = 0;
  std::string state;               // "delivered", "deferred" or "failed"
  std::int64_t next_attempt_at = 0;  // unix seconds: the retry for "deferred", else now
  std::string reply;               // recorded as the recipient's last reply
  std::string event;               // the history's event: delivered, deferred, failed, expired
  std::string event_detail;
  delivery_outcome outcome;        // the log line
};

// A DSN owed for one message: to its sender, for recipients of one action (RFC 3464): given
// up on (the bounce), or relayed to a next hop that will not report success itself.
struct bounce_order {
  std::int64_t message_id = 0;
  std::vector<given_up> recipients;
};

// Everything decided after one round of attempts.
struct attempt_decision {
  std::chrono::system_clock::time_point decided_at;  // the DSNs' Arrival/Last-Attempt time
  std::vector<recipient_decision> recipients;
  // One per message and action, never for a message from <> nor for a recipient whose
  // NOTIFY does not ask for it (RFC 3461 4.1).
  std::vector<bounce_order> bounces;
  std::vector<std::int64_t> suppressed_bounces;  // messages from <> that lost recipients
  // Messages late by policy.delay_warning whose sender is owed the one "delayed" DSN, for
  // their recipients still pending whose NOTIFY asks for DELAY (never from <>).
  std::vector<std::int64_t> delay_warnings;
};

// Decides the fate of each attempted recipient at time `now`: 2xx delivered; 5xx failed;
// 4xx or no answer deferred with backoff (retry_delay, `jitter` in [0, 1) drawn once per
// deferral), counted from the next whole second so a retry is never early; expired past
// policy.lifetime since arrival (RFC 3463 4.4.7). One bounce order per message that lost
// recipients, except from the null sender (RFC 5321 6.1: no bounce for a bounce) and for
// recipients whose NOTIFY excludes FAILURE. A DSN "relayed" for delivered recipients that
// asked for SUCCESS when the next hop could not take the request on (RFC 3461 5.2.3); a
// delay warning for a message deferred past policy.delay_warning, once.
attempt_decision decide_attempts(const std::vector<attempt_result>& results,
                                 const retry_policy& policy,
                                 std::chrono::system_clock::time_point now,
                                 const std::function<double()>& jitter);

// A local recipient due for delivery whose mailbox is gone or not there yet.
struct local_recipient_without_mailbox {
  std::int64_t id = 0;
  std::int64_t message_id = 0;
  std::string queue_id;
  std::string address;
  std::int64_t attempts = 0;     // before this one
  std::int64_t received_at = 0;  // unix seconds
};

// What becomes of a local recipient with no mailbox: mail for a postmaster is kept (RFC 5321
// 4.5.1) and looked at again every `postmaster_wait`, until an operator adds the user, but
// no longer than any message waits (then it expires, 4.4.7); any other user was deleted
// after the message was accepted: failed, 5.1.1. `lost` is set when the sender is owed a DSN.
recipient_decision decide_without_mailbox(const local_recipient_without_mailbox& r,
                                          const retry_policy& policy,
                                          std::chrono::system_clock::time_point now,
                                          std::chrono::seconds postmaster_wait,
                                          std::optional<given_up>& lost);

// Whether a message received at `received_at` (unix seconds) from a sender that is not <>
// is late enough at `now` for its one "delayed" DSN (policy.delay_warning; 0: never).
bool past_delay_warning(std::int64_t received_at, std::chrono::system_clock::time_point now,
                        const retry_policy& policy);

// The RFC 3463 status a reply carries ("5.1.1" of "550 5.1.1 text"), or one made from its
// class; `permanent` makes it 5.x.x. Without a 4.x.x or 5.x.x code, `otherwise` when given.
std::string status_of(std::string_view reply, bool permanent, std::string_view otherwise = {});

}  // namespace missive
