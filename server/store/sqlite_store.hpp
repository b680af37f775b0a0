// The store on SQLite (mail_store.hpp is the interface).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <set>

#include "mail_store.hpp"
#include "queue_store.hpp"

namespace missive {

class sqlite_worker;
class user_generation;

// The store on one SQLite file: one writer thread with group commit (many sessions'
// messages share a transaction and an fsync), local delivery inside the accepting commit,
// WAL with synchronous=FULL; readers on their own threads. No SQLite call runs on a
// network thread.
class sqlite_store final : public mail_store {
 public:
  // Opens (creating if needed) the database, brings its schema up to date, and returns to
  // the queue what a previous run left in flight. Throws if the database cannot be opened
  // or is from a newer version.
  // What the store is opened for: the relay (which first takes back what a previous run of
  // it left in flight), or an admin command beside a relay that may be running.
  enum class opening { relay, admin };

  sqlite_store(const std::filesystem::path& database, queue_policy policy,
               opening purpose = opening::relay);
  ~sqlite_store() override;

  // The operations of mail_store.hpp.
  asio::awaitable<std::vector<delivery_outcome>> store_message(incoming_message message) override;
  asio::awaitable<std::optional<std::string>> local_user(std::string address) override;
  asio::awaitable<expansion> resolve_recipient(std::string address,
                                               expansion_options options) override;
  asio::awaitable<std::optional<user_credentials>> credentials(std::string address) override;
  // The counter in the data directory's users.generation file (user_generation.hpp).
  std::optional<std::uint64_t> users_version() const override;
  asio::awaitable<std::vector<maildrop_entry>> maildrop(std::int64_t user_id) override;
  asio::awaitable<std::string> message_content(std::int64_t entry_id) override;
  asio::awaitable<std::vector<std::string>> message_contents(
      std::vector<std::int64_t> entry_ids) override;
  // Removes the entries a few hundred per transaction (a QUIT may expunge thousands).
  asio::awaitable<void> remove_entries(std::vector<std::int64_t> entry_ids) override;
  // In memory: one relay serves a SQLite file, and a crash leaves no stale lock behind.
  asio::awaitable<bool> lock_maildrop(std::int64_t user_id) override;
  void unlock_maildrop(std::int64_t user_id) override;
  asio::awaitable<std::vector<delivery_outcome>> deliver_local_batch(
      std::size_t limit, std::chrono::system_clock::time_point now) override;
  asio::awaitable<std::vector<remote_recipient>> claim_remote(
      std::size_t limit, std::chrono::system_clock::time_point now) override;
  asio::awaitable<void> release(std::vector<std::int64_t> recipient_ids) override;
  asio::awaitable<std::vector<delivery_outcome>> record_decision(attempt_decision decision) override;
  asio::awaitable<std::optional<std::int64_t>> next_due() override;
  asio::awaitable<queue_counts> queue_gauges(std::chrono::system_clock::time_point now) override;
  asio::awaitable<void> probe_write() override;
  asio::awaitable<std::size_t> purge_history(std::chrono::seconds keep) override;
  asio::awaitable<std::string> queued_body(std::int64_t message_id) override;
  std::uint64_t write_batches() const override;
  asio::awaitable<std::vector<std::string>> users() override;
  asio::awaitable<bool> user_exists(std::string address) override;
  asio::awaitable<bool> add_user(std::string address, std::string password_hash) override;
  asio::awaitable<bool> delete_user(std::string address) override;
  asio::awaitable<bool> set_password(std::string address, std::string password_hash) override;
  asio::awaitable<std::vector<alias_entry>> aliases() override;
  asio::awaitable<std::size_t> add_alias(std::string source, std::vector<std::string> targets) override;
  asio::awaitable<bool> delete_alias(std::string source) override;
  asio::awaitable<std::vector<message_summary>> pending_messages() override;
  asio::awaitable<std::optional<message_story>> story(std::string queue_id) override;
  asio::awaitable<std::optional<std::size_t>> make_due(std::optional<std::string> queue_id) override;
  asio::awaitable<bool> delete_message(std::string queue_id) override;
  // Through a counter file in the data directory (user_generation.hpp).
  bool announce_user_change() override;
  // With SIGUSR1 to the relay named in the data directory's pid file.
  bool announce_due_work() override;

 private:
  std::filesystem::path data_dir_;
  queue_policy policy_;
  std::unique_ptr<user_generation> user_changes_;
  std::unique_ptr<sqlite_worker> writer_;
  std::unique_ptr<sqlite_worker> readers_;
  std::mutex locks_mutex_;
  std::set<std::int64_t> locked_maildrops_;
};

// Opens a database for an admin command or for start-up: creates the data directory
// readable by its owner only, applies migrations. Used before any worker thread starts.
void prepare_database(const std::filesystem::path& database);

}  // namespace missive
