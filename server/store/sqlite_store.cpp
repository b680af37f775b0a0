// The store on SQLite: see sqlite_store.hpp.
#include "sqlite_store.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>

#include "alias_store.hpp"
#include "ascii.hpp"
#include "data_directory.hpp"
#include "db.hpp"
#include "migration.hpp"
#include "pid_file.hpp"
#include "sqlite_worker.hpp"
#include "store_error.hpp"
#include "user_generation.hpp"
#include "user_store.hpp"

namespace missive::schema {
extern const std::vector<db::migration> server_migrations;
}

namespace missive {

namespace {

// Reader threads: POP3 retrievals and password checks run here, off the network thread.
constexpr int reader_threads = 2;

}  // namespace

void prepare_database(const std::filesystem::path& database) {
  auto dir = database.parent_path();
  prepare_data_directory(dir.empty() ? std::filesystem::path(".") : dir);
  db::connection db(database.string());
  ::chmod(database.c_str(), 0600);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA foreign_keys = ON");
  try {
    db::migrate(db, schema::server_migrations, "relay");
  } catch (const db::schema_too_new& e) {
    // Written by a newer Missive: nothing this one can do with it.
    throw store_error(store_error::kind::permanent, e.what());
  }
}

sqlite_store::sqlite_store(const std::filesystem::path& database, queue_policy policy,
                           opening purpose)
    : data_dir_(database.parent_path()), policy_(std::move(policy)) {
  prepare_database(database);
  user_changes_ = std::make_unique<user_generation>(user_generation_file(database.parent_path()));
  if (purpose == opening::relay) {
    // Crash recovery: deliveries a previous run had under way go back to the queue.
    db::connection db(database.string());
    release_all_claims(db);
  }
  writer_ = std::make_unique<sqlite_worker>(database, sqlite_worker::mode::group_commit, 1);
  readers_ = std::make_unique<sqlite_worker>(database, sqlite_worker::mode::independent,
                                             reader_threads);
}

sqlite_store::~sqlite_store() = default;

asio::awaitable<std::vector<delivery_outcome>> sqlite_store::store_message(incoming_message message) {
  auto queue_id = message.queue_id;
  // A success notice (RFC 3461) composed in the same commit is not withdrawn with it: the
  // message was in the mailbox for as long as the flush took.
  return writer_->run(undoable_job{
      [message = std::move(message), this](db::connection& db) {
        return accept_message(db, message, policy_);
      },
      [queue_id = std::move(queue_id)](db::connection& db) { withdraw_message(db, queue_id); }});
}

asio::awaitable<std::optional<std::string>> sqlite_store::local_user(std::string address) {
  return readers_->run([address = std::move(address)](db::connection& db) {
    auto user = find_user(db, address);
    return user ? std::optional<std::string>(std::move(user->address)) : std::nullopt;
  });
}

asio::awaitable<expansion> sqlite_store::resolve_recipient(std::string address,
                                                      expansion_options options) {
  return readers_->run([address = std::move(address), options = std::move(options)](
                           db::connection& db) {
    return resolve_stored_recipient(db, address, options);
  });
}

asio::awaitable<std::optional<user_credentials>> sqlite_store::credentials(std::string address) {
  return readers_->run([address = std::move(address)](db::connection& db) {
    auto user = find_user(db, address);
    if (!user) return std::optional<user_credentials>();
    return std::optional<user_credentials>(
        user_credentials{user->id, std::move(user->address), std::move(user->password_hash)});
  });
}

std::optional<std::uint64_t> sqlite_store::users_version() const {
  if (!user_changes_->usable()) return std::nullopt;
  return user_changes_->value();
}

asio::awaitable<std::vector<maildrop_entry>> sqlite_store::maildrop(std::int64_t user_id) {
  return readers_->run([user_id](db::connection& db) { return maildrop_entries(db, user_id); });
}

asio::awaitable<std::string> sqlite_store::message_content(std::int64_t entry_id) {
  return readers_->run([entry_id](db::connection& db) { return maildrop_message(db, entry_id); });
}

asio::awaitable<std::vector<std::string>> sqlite_store::message_contents(std::vector<std::int64_t> entry_ids) {
  return readers_->run([ids = std::move(entry_ids)](db::connection& db) {
    // One read transaction for them all: the database file is locked and checked once, not
    // once per message (two fcntl and an fstat each).
    db.run("BEGIN");
    try {
      auto contents = maildrop_messages(db, ids);
      db.run("COMMIT");
      return contents;
    } catch (...) {
      try {
        db.run("ROLLBACK");
      } catch (...) {
        // The first failure is the one to report; the connection rolls back when reused.
      }
      throw;
    }
  });
}

asio::awaitable<void> sqlite_store::remove_entries(std::vector<std::int64_t> entry_ids) {
  // A QUIT may expunge tens of thousands of messages: a few hundred per transaction, so that
  // the writer commits other sessions' mail in between instead of after all of them. Each
  // message is still wholly kept or wholly removed; if a later part fails, the client hears
  // that some were not removed (RFC 1939 6).
  constexpr std::size_t part_size = 256;
  for (std::size_t start = 0; start < entry_ids.size(); start += part_size) {
    auto end = entry_ids.begin() + static_cast<std::ptrdiff_t>(
                                       std::min(start + part_size, entry_ids.size()));
    std::vector<std::int64_t> part(entry_ids.begin() + static_cast<std::ptrdiff_t>(start), end);
    // Named, not a temporary: GCC 12 destroys a temporary closure in co_await twice.
    auto remove_part = [part = std::move(part)](db::connection& db) {
      remove_maildrop_entries(db, part);
    };
    co_await writer_->run(std::move(remove_part));
  }
}

asio::awaitable<bool> sqlite_store::lock_maildrop(std::int64_t user_id) {
  std::lock_guard lock(locks_mutex_);
  co_return locked_maildrops_.insert(user_id).second;
}

void sqlite_store::unlock_maildrop(std::int64_t user_id) {
  std::lock_guard lock(locks_mutex_);
  locked_maildrops_.erase(user_id);
}

asio::awaitable<std::vector<delivery_outcome>> sqlite_store::deliver_local_batch(
    std::size_t limit, std::chrono::system_clock::time_point now) {
  return writer_->run(
      [limit, now, this](db::connection& db) { return deliver_local(db, limit, policy_, now); });
}

asio::awaitable<std::vector<remote_recipient>> sqlite_store::claim_remote(
    std::size_t limit, std::chrono::system_clock::time_point now) {
  // Claims the courier never hears of would stay claimed until the next start.
  auto claimed = std::make_shared<std::vector<std::int64_t>>();
  return writer_->run(undoable_job{
      [limit, now, claimed](db::connection& db) {
        auto recipients = claim_due_remote(db, limit, now);
        claimed->clear();
        for (const auto& r : recipients) claimed->push_back(r.id);
        return recipients;
      },
      [claimed](db::connection& db) { release_claims(db, *claimed); }});
}

asio::awaitable<void> sqlite_store::release(std::vector<std::int64_t> recipient_ids) {
  return writer_->run([recipient_ids = std::move(recipient_ids)](db::connection& db) {
    release_claims(db, recipient_ids);
  });
}

asio::awaitable<std::vector<delivery_outcome>> sqlite_store::record_decision(
    attempt_decision decision) {
  return writer_->run([decision = std::move(decision), this](db::connection& db) {
    return missive::record_decision(db, decision, policy_);
  });
}

asio::awaitable<std::optional<std::int64_t>> sqlite_store::next_due() {
  return readers_->run([](db::connection& db) { return next_due_time(db); });
}

asio::awaitable<queue_counts> sqlite_store::queue_gauges(std::chrono::system_clock::time_point now) {
  return readers_->run([now](db::connection& db) { return count_queue(db, now); });
}

asio::awaitable<void> sqlite_store::probe_write() {
  return writer_->run([](db::connection& db) { write_health_probe(db, unix_now()); });
}

asio::awaitable<std::size_t> sqlite_store::purge_history(std::chrono::seconds keep) {
  // Batches keep each transaction short: the writer also commits incoming mail.
  constexpr std::size_t batch = 500;
  std::size_t removed = 0;
  // Named, not a temporary: GCC 12 destroys a temporary closure in co_await twice.
  auto purge_batch = [keep](db::connection& db) {
    return purge_finished(db, unix_now() - keep.count(), batch);
  };
  for (;;) {
    std::size_t now_removed = co_await writer_->run(purge_batch);
    removed += now_removed;
    if (now_removed < batch) co_return removed;
  }
}

asio::awaitable<std::string> sqlite_store::queued_body(std::int64_t message_id) {
  return readers_->run([message_id](db::connection& db) { return message_body(db, message_id); });
}

std::uint64_t sqlite_store::write_batches() const { return writer_->batches(); }

asio::awaitable<std::vector<std::string>> sqlite_store::users() {
  return readers_->run([](db::connection& db) { return list_users(db); });
}

asio::awaitable<bool> sqlite_store::user_exists(std::string address) {
  return readers_->run([address = std::move(address)](db::connection& db) {
    return find_user_id(db, address).has_value();
  });
}

asio::awaitable<bool> sqlite_store::add_user(std::string address, std::string password_hash) {
  return writer_->run([address = std::move(address), hash = std::move(password_hash)](
                          db::connection& db) { return missive::add_user(db, address, hash); });
}

asio::awaitable<bool> sqlite_store::delete_user(std::string address) {
  return writer_->run([address = std::move(address)](db::connection& db) {
    return missive::delete_user(db, address);
  });
}

asio::awaitable<bool> sqlite_store::set_password(std::string address, std::string password_hash) {
  return writer_->run([address = std::move(address), hash = std::move(password_hash)](
                          db::connection& db) { return set_password_hash(db, address, hash); });
}

asio::awaitable<std::vector<alias_entry>> sqlite_store::aliases() {
  return readers_->run([](db::connection& db) { return list_aliases(db); });
}

// An alias change is a user change to the relays: what they remember of recipients goes.
asio::awaitable<std::size_t> sqlite_store::add_alias(std::string source, std::vector<std::string> targets) {
  return writer_->run([source = std::move(source), targets = std::move(targets)](
                          db::connection& db) {
    std::size_t added = add_alias_targets(db, source, targets);
    return added;
  });
}

asio::awaitable<bool> sqlite_store::delete_alias(std::string source) {
  return writer_->run([source = std::move(source)](db::connection& db) {
    bool deleted = missive::delete_alias(db, source);
    return deleted;
  });
}

asio::awaitable<std::vector<message_summary>> sqlite_store::pending_messages() {
  return readers_->run([](db::connection& db) { return missive::pending_messages(db); });
}

asio::awaitable<std::optional<message_story>> sqlite_store::story(std::string queue_id) {
  return readers_->run([queue_id = std::move(queue_id)](db::connection& db) {
    return find_message_story(db, queue_id);
  });
}

asio::awaitable<std::optional<std::size_t>> sqlite_store::make_due(
    std::optional<std::string> queue_id) {
  return writer_->run([queue_id = std::move(queue_id)](db::connection& db) {
    return make_due_now(db, queue_id);
  });
}

asio::awaitable<bool> sqlite_store::delete_message(std::string queue_id) {
  return writer_->run([queue_id = std::move(queue_id)](db::connection& db) {
    return missive::delete_message(db, queue_id);
  });
}

bool sqlite_store::announce_user_change() { return user_changes_->bump(); }

bool sqlite_store::announce_due_work() {
  auto pid = running_relay(data_dir_);
  return pid && ::kill(*pid, SIGUSR1) == 0;
}

}  // namespace missive
