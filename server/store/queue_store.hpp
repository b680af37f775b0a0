// The queue's SQL: storing accepted messages, local delivery, claiming remote work, recording
// what the scheduler decided, bounces. Synchronous functions on a connection, written once
// for SQLite (db::connection) and PostgreSQL (pg::connection) where they agree
// (sql_dialect.hpp); the claims, where the two differ most, are SQLite's here and
// PostgreSQL's in pg_store. The stores run them on their writer and reader threads.
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
class statement;
}
namespace pg {
class connection;
class statement;
}

struct attempt_decision;

// Stores a message and its recipients, all due now, and delivers at once to the local
// recipients that have a mailbox; returns those deliveries.
template <class Db>
std::vector<delivery_outcome> insert_message(Db& db, const incoming_message& message);
// insert_message, then the DSN "delivered" (RFC 3461) to the sender for each local
// recipient delivered at once that asked for SUCCESS.
template <class Db>
std::vector<delivery_outcome> accept_message(Db& db, const incoming_message& message,
                                             const queue_policy& policy);
// Whether accept_message has more to do than insert_message (a success DSN is owed).
bool wants_success_notice(const incoming_message& message);
// A claimed remote recipient from a row of: r.id, r.message_id, m.queue_id, m.sender,
// r.address, r.attempts, m.received_at, r.dsn_notify, coalesce(r.dsn_orcpt, ''), m.dsn_ret,
// coalesce(m.dsn_envid, ''), m.delay_warned.
remote_recipient read_claimed(db::statement& row);
remote_recipient read_claimed(pg::statement& row);

// insert_message on PostgreSQL in its two parts, for a pipelined batch (pg_worker): the
// statement sent, then its answer read; `message` must be the same for both.
void send_message_insert(pg::connection& db, const incoming_message& message);
std::vector<delivery_outcome> receive_message_insert(pg::connection& db,
                                                     const incoming_message& message);

// Delivers up to `limit` local recipients due at `now` (mailbox entry and state together).
template <class Db>
std::vector<delivery_outcome> deliver_local(Db& db, std::size_t limit,
                                            const queue_policy& policy,
                                            std::chrono::system_clock::time_point now);

// Claims up to `limit` remote recipients due at `now` (marks them in flight) for delivery.
std::vector<remote_recipient> claim_due_remote(db::connection& db, std::size_t limit,
                                               std::chrono::system_clock::time_point now);

// Records what the scheduler decided after attempts (recipient_fate.hpp): each recipient's
// new state and history, and the DSNs owed; a recipient no longer pending (deleted during
// the attempt) is left alone and reported "dropped". Releases the claims.
template <class Db>
std::vector<delivery_outcome> record_decision(Db& db, const attempt_decision& decision,
                                             const queue_policy& policy);

// The unix time at which the next pending recipient falls due, if any is waiting.
std::optional<std::int64_t> next_due_time(db::connection& db);

// The pending recipients by state, and the oldest message with one due at `now`.
template <class Db>
queue_counts count_queue(Db& db, std::chrono::system_clock::time_point now);

// Rewrites the health_probe row with `now` (unix seconds): a write that must commit.
template <class Db>
void write_health_probe(Db& db, std::int64_t now);

// Returns claimed recipients to the queue unattempted.
void release_claims(db::connection& db, const std::vector<std::int64_t>& recipient_ids);

// Removes a message and everything of it (its mailbox entries too), as if never accepted:
// for an acceptance whose commit the disk did not confirm, whose client heard 451.
void withdraw_message(db::connection& db, const std::string& queue_id);

// Returns everything a previous run left in flight to the queue (crash recovery).
void release_all_claims(db::connection& db);

// The stored bytes of a message.
template <class Db>
std::string message_body(Db& db, std::int64_t message_id);

// Removes a message's body and rows once no mailbox and no pending recipient needs it.
template <class Db>
void collect_message(Db& db, std::int64_t message_id);

// Removes up to `limit` finished messages (every recipient done, no maildrop holding them)
// whose last attempt was before `finished_before` (unix seconds), with their recipients and
// history; returns how many.
template <class Db>
std::size_t purge_finished(Db& db, std::int64_t finished_before, std::size_t limit);

// The current time in unix seconds, as the queue records it.
std::int64_t unix_now();

// The messages with a recipient still to deliver, oldest first (`missived queue list`).
template <class Db>
std::vector<message_summary> pending_messages(Db& db);

// A message's whole story (`missived queue show`); nullopt when there is no such message.
template <class Db>
std::optional<message_story> find_message_story(Db& db, const std::string& queue_id);

// Makes every pending recipient (of one message, if given) due now; how many, or nullopt
// when the given message does not exist (`queue flush`, `queue retry`).
template <class Db>
std::optional<std::size_t> make_due_now(Db& db, const std::optional<std::string>& queue_id);

// Gives up a message's pending recipients (no bounce) and removes it unless a maildrop
// still holds it (`queue delete`); false when there is no such message.
template <class Db>
bool delete_message(Db& db, const std::string& queue_id);

// A user's maildrop, oldest first, with each message's size as POP3 shows it.
template <class Db>
std::vector<maildrop_entry> maildrop_entries(Db& db, std::int64_t user_id);

// A maildrop message as POP3 gives it: the delivery headers, then the stored bytes.
template <class Db>
std::string maildrop_message(Db& db, std::int64_t entry_id);

// Several maildrop messages in the order given, read with one connection: the first must be
// there (else it throws, as maildrop_message); the list stops short at the first later one
// that cannot be read.
template <class Db>
std::vector<std::string> maildrop_messages(Db& db, const std::vector<std::int64_t>& entry_ids);

// Takes entries out of their maildrops, and their messages away when nothing needs them.
template <class Db>
void remove_maildrop_entries(Db& db, const std::vector<std::int64_t>& entry_ids);

}  // namespace missive
