// store/: the store. This interface (queue, mailboxes, users, the admin queries, change
// notification) is all the rest of the relay sees; queue_types.hpp holds its values and
// store_error.hpp its failures. The SQLite implementation is sqlite_store (with its worker
// threads and the SQL in queue_store and user_store); open_store picks the configured one.
#pragma once

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alias_store.hpp"
#include "queue_types.hpp"
#include "recipient_expansion.hpp"
#include "recipient_fate.hpp"

namespace missive {

// The store: queue, mailboxes and users, as coroutines on the queue's values
// (queue_types.hpp). Failures are store_error (store_error.hpp). Sessions, the scheduler and
// the relay see only this; sqlite_store.hpp is the implementation (one file, one writer
// with group commit), and another (PostgreSQL for several nodes) would be a second.
class mail_store {
 public:
  virtual ~mail_store() = default;

  // Stores a message and all its recipients in one transaction, delivering to local
  // mailboxes in it; returns those deliveries once committed.
  virtual asio::awaitable<std::vector<delivery_outcome>> store_message(
      incoming_message message) = 0;
  // The address of the local user that `address` names (any case), as it was added.
  virtual asio::awaitable<std::optional<std::string>> local_user(std::string address) = 0;
  // What a recipient of a local domain leads to: users, aliases, subaddresses and catch-alls
  // looked up on a reader, expanded by recipient_expansion.
  virtual asio::awaitable<expansion> resolve_recipient(std::string address,
                                                       expansion_options options) = 0;
  // The stored credentials of the user that `address` names (any case), to check a login.
  virtual asio::awaitable<std::optional<user_credentials>> credentials(std::string address) = 0;
  // A number that changes whenever the users change (added, deleted, new password), read
  // without asking the store; what was learned of users under another number is stale.
  // nullopt when the store cannot tell: then nothing about users may be remembered.
  virtual std::optional<std::uint64_t> users_version() const = 0;
  // The messages in a user's maildrop, oldest first.
  virtual asio::awaitable<std::vector<maildrop_entry>> maildrop(std::int64_t user_id) = 0;
  // The stored bytes of a maildrop message.
  virtual asio::awaitable<std::string> message_content(std::int64_t entry_id) = 0;
  // The stored bytes of several maildrop messages, in the order given, read in one trip to
  // the store: the first is always there (else store_error); the list may stop short after
  // it (a message that could not be read is left to be asked for on its own).
  virtual asio::awaitable<std::vector<std::string>> message_contents(
      std::vector<std::int64_t> entry_ids) = 0;
  // Removes maildrop messages in one transaction (POP3 UPDATE state).
  virtual asio::awaitable<void> remove_entries(std::vector<std::int64_t> entry_ids) = 0;
  // Takes a user's maildrop for one POP3 session, on every relay serving this store (RFC
  // 1939 8); false when another session holds it. Freed by unlock_maildrop, and by the
  // store when the holding relay dies.
  virtual asio::awaitable<bool> lock_maildrop(std::int64_t user_id) = 0;
  virtual void unlock_maildrop(std::int64_t user_id) = 0;
  // Delivers up to `limit` local recipients due at `now` (the scheduler's clock) in one
  // transaction; returns what became of each, once committed.
  virtual asio::awaitable<std::vector<delivery_outcome>> deliver_local_batch(
      std::size_t limit, std::chrono::system_clock::time_point now) = 0;
  // Claims up to `limit` remote recipients due at `now` (the scheduler's clock).
  virtual asio::awaitable<std::vector<remote_recipient>> claim_remote(
      std::size_t limit, std::chrono::system_clock::time_point now) = 0;
  // Returns claimed recipients to the queue unattempted.
  virtual asio::awaitable<void> release(std::vector<std::int64_t> recipient_ids) = 0;
  // Records what the scheduler decided after attempts (recipient states, history, DSNs) in
  // one transaction; returns the outcomes to log.
  virtual asio::awaitable<std::vector<delivery_outcome>> record_decision(
      attempt_decision decision) = 0;
  // When the next pending recipient falls due (unix seconds), if any is waiting.
  virtual asio::awaitable<std::optional<std::int64_t>> next_due() = 0;
  // Commits one small write through the writer, as a message's would (GET /healthz when
  // nothing else has written lately); throws store_error when the store takes no writes.
  virtual asio::awaitable<void> probe_write() = 0;
  // The queue's pending recipients by state and when its oldest due message (due at `now`)
  // arrived, for the metrics at scrape time.
  virtual asio::awaitable<queue_counts> queue_gauges(std::chrono::system_clock::time_point now) = 0;
  // Removes finished messages (every recipient done, no maildrop holding them) whose last
  // attempt is older than `keep`, with their history; returns how many.
  virtual asio::awaitable<std::size_t> purge_history(std::chrono::seconds keep) = 0;
  // The stored bytes of a queued message.
  virtual asio::awaitable<std::string> queued_body(std::int64_t message_id) = 0;

  // Write transactions committed so far, for the log, tests and benchmarks.
  virtual std::uint64_t write_batches() const = 0;

  // Administration (`missived user ...`, `missived queue ...`).
  // The local users' addresses, in order.
  virtual asio::awaitable<std::vector<std::string>> users() = 0;
  // Whether a local user of that address (any case) exists.
  virtual asio::awaitable<bool> user_exists(std::string address) = 0;
  // Adds a user with a password hash (password_hash.hpp); false when the address is taken.
  virtual asio::awaitable<bool> add_user(std::string address, std::string password_hash) = 0;
  // Removes a user and the messages only its maildrop held; false when there is none.
  virtual asio::awaitable<bool> delete_user(std::string address) = 0;
  // Sets a user's password hash; false when there is no such user.
  virtual asio::awaitable<bool> set_password(std::string address, std::string password_hash) = 0;
  // Every alias, sorted by source (`missived alias list`).
  virtual asio::awaitable<std::vector<alias_entry>> aliases() = 0;
  // Adds targets to an alias, making it if new; how many targets were new.
  virtual asio::awaitable<std::size_t> add_alias(std::string source,
                                                 std::vector<std::string> targets) = 0;
  // Removes an alias; false when there is none.
  virtual asio::awaitable<bool> delete_alias(std::string source) = 0;
  // The messages with a recipient still to deliver, oldest first.
  virtual asio::awaitable<std::vector<message_summary>> pending_messages() = 0;
  // A message's whole story; nullopt when there is no such message.
  virtual asio::awaitable<std::optional<message_story>> story(std::string queue_id) = 0;
  // Makes every pending recipient (of one message, if given) due now; how many, or nullopt
  // when the given message does not exist.
  virtual asio::awaitable<std::optional<std::size_t>> make_due(
      std::optional<std::string> queue_id) = 0;
  // Gives up a message's pending recipients without a bounce and removes it (unless a
  // maildrop holds it); false when there is no such message.
  virtual asio::awaitable<bool> delete_message(std::string queue_id) = 0;

  // Change notification, to every relay serving this store.
  // The users or aliases changed: what the relays remember of them is forgotten. False when that
  // cannot be said at once (they notice within 10 seconds).
  virtual bool announce_user_change() = 0;
  // Recipients became due: a relay looks at the queue now. False when no relay runs.
  virtual bool announce_due_work() = 0;
  // Calls `wake` (from any thread) when another process announces due work, where the
  // store carries such news itself; otherwise it comes by other means (SIGUSR1 for SQLite).
  virtual void on_due_work(std::function<void()> wake) { (void)wake; }
};

}  // namespace missive
