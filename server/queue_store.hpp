// The queue's SQL: storing accepted messages, local delivery, claiming remote work, recording
// what next hops answered, bounces. Synchronous functions on a connection; the mail_store
// runs them on the writer and reader threads, the admin commands directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "retry_schedule.hpp"

namespace missive {

namespace db {
class connection;
}

struct incoming_message;
struct attempt_decision;

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
  std::string sender;
  std::string address;
  std::int64_t attempts = 0;     // before this one
  std::int64_t received_at = 0;  // unix seconds
};

// How a delivery attempt ended for one recipient (RFC 5321 4.2.1: by the reply's first digit).
enum class attempt_fate { delivered, retry, permanent };

// What happened to one remote recipient in one attempt.
struct attempt_result {
  remote_recipient recipient;
  attempt_fate fate = attempt_fate::retry;
  std::string reply;  // the next hop's reply, or our reason ("connect to ...: refused")
  std::string relay;  // "host[addr]:port", or "none"
};

// What became of one recipient, for the log line (Postfix style).
struct delivery_outcome {
  std::string queue_id;
  std::string recipient;
  std::string relay;             // "local" or "host[addr]:port"
  // "sent", "deferred", "bounced" or "expired"; "notified" when the sender was sent a DSN,
  // whose queue id is then the detail
  std::string status;
  std::int64_t delay_seconds = 0;  // since the message arrived
  std::int64_t attempts = 0;
  std::string detail;
};

// Stores a message and its recipients, all due now, and delivers at once to the local
// recipients that have a mailbox; returns those deliveries.
std::vector<delivery_outcome> insert_message(db::connection& db, const incoming_message& message);

// Delivers up to `limit` due local recipients (mailbox entry and state together).
std::vector<delivery_outcome> deliver_local(db::connection& db, std::size_t limit,
                                            const queue_policy& policy);

// Claims up to `limit` due remote recipients (marks them in flight) for delivery.
std::vector<remote_recipient> claim_due_remote(db::connection& db, std::size_t limit);

// Records what the scheduler decided after attempts (recipient_fate.hpp): each recipient's
// new state and history, and the DSNs owed; a recipient no longer pending (deleted during
// the attempt) is left alone and reported "dropped". Releases the claims.
std::vector<delivery_outcome> record_decision(db::connection& db, const attempt_decision& decision,
                                             const queue_policy& policy);

// The unix time at which the next pending recipient falls due, if any is waiting.
std::optional<std::int64_t> next_due_time(db::connection& db);

// Returns claimed recipients to the queue unattempted.
void release_claims(db::connection& db, const std::vector<std::int64_t>& recipient_ids);

// Returns everything a previous run left in flight to the queue (crash recovery).
void release_all_claims(db::connection& db);

// The stored bytes of a message.
std::string message_body(db::connection& db, std::int64_t message_id);

// Removes a message's body and rows once no mailbox and no pending recipient needs it.
void collect_message(db::connection& db, std::int64_t message_id);

// Removes up to `limit` finished messages (every recipient done, no maildrop holding them)
// whose last attempt was before `finished_before` (unix seconds), with their recipients and
// history; returns how many.
std::size_t purge_finished(db::connection& db, std::int64_t finished_before, std::size_t limit);

// The current time in unix seconds, as the queue records it.
std::int64_t unix_now();

}  // namespace missive
