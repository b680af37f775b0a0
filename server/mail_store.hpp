// The narrow storage interface of the relay: queue, mailboxes and users. Sessions and the
// scheduler see only these operations, as coroutines; behind them, SQLite runs on worker
// threads (one writer with group commit, a few readers). Another backend (PostgreSQL for
// several relay nodes) would implement the same operations.
#pragma once

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue_store.hpp"
#include "recipient_fate.hpp"

namespace missive {

class sqlite_worker;
class credential_cache;
class local_user_cache;
class user_generation;

// An envelope recipient of a message being stored.
struct incoming_recipient {
  std::string address;
  bool is_local = false;
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

// Queue, mailbox and user operations, each run off the network threads.
class mail_store {
 public:
  // Opens (creating if needed) the database, brings its schema up to date, and returns to
  // the queue what a previous run left in flight. Throws if the database cannot be opened
  // or is from a newer version.
  mail_store(const std::filesystem::path& database, queue_policy policy);
  ~mail_store();

  // Stores a message and all its recipients in one transaction, delivering to local
  // mailboxes in it; returns those deliveries once committed.
  asio::awaitable<std::vector<delivery_outcome>> store_message(incoming_message message);
  // The address of the local user that `address` names (any case), as it was added.
  asio::awaitable<std::optional<std::string>> local_user(std::string address);
  // What local_user would answer, when that is known without asking the database (the
  // users have not changed since it last asked); nullopt when it must ask.
  std::optional<std::optional<std::string>> known_local_user(std::string_view address);
  // Checks a user's password (slowly, by design); the user when it matches.
  asio::awaitable<std::optional<user_identity>> authenticate(std::string address,
                                                             std::string password);
  // The messages in a user's maildrop, oldest first.
  asio::awaitable<std::vector<maildrop_entry>> maildrop(std::int64_t user_id);
  // The stored bytes of a maildrop message.
  asio::awaitable<std::string> message_content(std::int64_t entry_id);
  // Removes maildrop messages in one transaction (POP3 UPDATE state).
  asio::awaitable<void> remove_entries(std::vector<std::int64_t> entry_ids);
  // Delivers up to `limit` due local recipients in one transaction; returns what became
  // of each, once committed.
  asio::awaitable<std::vector<delivery_outcome>> deliver_local_batch(std::size_t limit);
  // Claims up to `limit` due remote recipients for delivery.
  asio::awaitable<std::vector<remote_recipient>> claim_remote(std::size_t limit);
  // Returns claimed recipients to the queue unattempted.
  asio::awaitable<void> release(std::vector<std::int64_t> recipient_ids);
  // Records what the scheduler decided after attempts (recipient states, history, DSNs) in
  // one transaction; returns the outcomes to log.
  asio::awaitable<std::vector<delivery_outcome>> record_decision(attempt_decision decision);
  // When the next pending recipient falls due (unix seconds), if any is waiting.
  asio::awaitable<std::optional<std::int64_t>> next_due();
  // Removes finished messages whose last attempt is older than `keep` (see
  // queue_store.hpp purge_finished), a batch per transaction; returns how many.
  asio::awaitable<std::size_t> purge_history(std::chrono::seconds keep);
  // The stored bytes of a queued message.
  asio::awaitable<std::string> queued_body(std::int64_t message_id);

  // Jobs run by the writer so far, for tests and benchmarks.
  std::uint64_t write_batches() const;

 private:
  queue_policy policy_;
  std::unique_ptr<credential_cache> logins_;
  std::unique_ptr<user_generation> user_changes_;
  std::unique_ptr<local_user_cache> known_users_;  // null when user_changes_ is unusable
  std::unique_ptr<sqlite_worker> writer_;
  std::unique_ptr<sqlite_worker> readers_;
};

// Opens a database for an admin command or for start-up: creates the data directory
// readable by its owner only, applies migrations. Used before any worker thread starts.
void prepare_database(const std::filesystem::path& database);

}  // namespace missive
