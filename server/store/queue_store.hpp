// The queue's SQL: storing accepted messages, local delivery, claiming remote work, recording
// what the scheduler decided, bounces. Synchronous functions on a connection: the SQLite
// store (sqlite_store.hpp) runs them on its writer and reader threads, the admin commands
// directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queue_types.hpp"

namespace missive {

namespace db {
class connection;
}

struct attempt_decision;

// Stores a message and its recipients, all due now, and delivers at once to the local
// recipients that have a mailbox; returns those deliveries.
std::vector<delivery_outcome> insert_message(db::connection& db, const incoming_message& message);

// Delivers up to `limit` local recipients due at `now` (mailbox entry and state together).
std::vector<delivery_outcome> deliver_local(db::connection& db, std::size_t limit,
                                            const queue_policy& policy,
                                            std::chrono::system_clock::time_point now);

// Claims up to `limit` remote recipients due at `now` (marks them in flight) for delivery.
std::vector<remote_recipient> claim_due_remote(db::connection& db, std::size_t limit,
                                               std::chrono::system_clock::time_point now);

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

// The messages with a recipient still to deliver, oldest first (`missived queue list`).
std::vector<message_summary> pending_messages(db::connection& db);

// A message's whole story (`missived queue show`); nullopt when there is no such message.
std::optional<message_story> find_message_story(db::connection& db, const std::string& queue_id);

// Makes every pending recipient (of one message, if given) due now; how many, or nullopt
// when the given message does not exist (`queue flush`, `queue retry`).
std::optional<std::size_t> make_due_now(db::connection& db, const std::optional<std::string>& queue_id);

// Gives up a message's pending recipients (no bounce) and removes it unless a maildrop
// still holds it (`queue delete`); false when there is no such message.
bool delete_message(db::connection& db, const std::string& queue_id);

}  // namespace missive
