// The store on PostgreSQL (mail_store.hpp is the interface), for several relay nodes sharing
// one queue, one set of mailboxes and one user table.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "mail_store.hpp"

namespace missive {

class user_generation;

namespace pg {
class connection;
}

class pg_worker;

// Where the PostgreSQL store is and who this node is.
struct pg_store_settings {
  std::string url;                  // libpq connection string or URI
  std::string node;                 // this node's name, written on its leases
  std::chrono::seconds lease{300};  // how long a claim on remote recipients lasts
  // This node's data directory: `user add/del/passwd` run here raise its users.generation
  // counter as well as NOTIFY, so this host's relay sees them at once, not a moment later.
  std::filesystem::path data_dir;
};

// The store on PostgreSQL: one writer connection with group commit (many sessions' messages
// per transaction), local delivery inside the accepting transaction, readers on their own
// connections; no libpq call on a network thread. Across nodes: due remote recipients are
// claimed with FOR UPDATE SKIP LOCKED and a lease (node, until), POP3 maildrops are locked
// with session advisory locks (freed by PostgreSQL when the holding node's connection
// ends), and LISTEN/NOTIFY tells every node of due work and of changed users. A node renews
// its leases while it lives (every third of a lease), so only a dead node's claims pass on.
class pg_store final : public mail_store {
 public:
  enum class opening { relay, admin };

  // Connects, brings the schema up to date under an advisory lock (two nodes starting at
  // once do not race) and, for a relay, takes back this node's own leases from a previous
  // run. Throws store_error when PostgreSQL cannot be reached or its schema is newer.
  pg_store(pg_store_settings settings, queue_policy policy, opening purpose);
  ~pg_store() override;

  asio::awaitable<std::vector<delivery_outcome>> store_message(incoming_message message) override;
  asio::awaitable<std::optional<std::string>> local_user(std::string address) override;
  asio::awaitable<expansion> resolve_recipient(std::string address,
                                               expansion_options options) override;
  asio::awaitable<std::optional<user_credentials>> credentials(std::string address) override;
  // Counts the user changes other nodes announced (and reconnections, when some may have
  // been missed).
  std::optional<std::uint64_t> users_version() const override;
  asio::awaitable<std::vector<maildrop_entry>> maildrop(std::int64_t user_id) override;
  asio::awaitable<std::string> message_content(std::int64_t entry_id) override;
  asio::awaitable<std::vector<std::string>> message_contents(
      std::vector<std::int64_t> entry_ids) override;
  asio::awaitable<void> remove_entries(std::vector<std::int64_t> entry_ids) override;
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
  // The changes themselves NOTIFY every node, in their own transaction: nothing more to say.
  bool announce_user_change() override;
  bool announce_due_work() override { return true; }
  void on_due_work(std::function<void()> wake) override;

 private:
  // Listens for other nodes' announcements, and renews this node's leases meanwhile.
  void listen_for_changes();
  void renew_leases();

  pg_store_settings settings_;
  queue_policy policy_;
  std::unique_ptr<pg_worker> writer_;
  std::unique_ptr<pg_worker> readers_;
  // One connection holds every maildrop lock of this node: its end frees them all.
  std::unique_ptr<pg_worker> locks_;
  std::mutex held_mutex_;
  std::set<std::int64_t> held_;  // maildrops locked by this node's sessions
  // Of those, the locks the locks connection holds (used on its thread only): taken back
  // when that connection is made again.
  std::set<std::int64_t> confirmed_;
  // Uses the locks connection (every lock_check_interval), so that one that broke is made
  // again and takes its locks back within about that time.
  void check_maildrop_locks();
  void retake_maildrop_locks(pg::connection& db);
  std::atomic<std::uint64_t> users_version_{0};  // raised by each NOTIFY on missive_users
  std::unique_ptr<user_generation> local_user_changes_;  // this host's (may be unusable)
  std::mutex wake_mutex_;
  std::function<void()> wake_;
  std::atomic<bool> stopping_{false};
  std::thread listener_;
};

}  // namespace missive
