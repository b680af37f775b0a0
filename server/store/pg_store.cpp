// The store on PostgreSQL: see pg_store.hpp.
#include "pg_store.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <fmt/format.h>

#include "alias_store.hpp"
#include "data_directory.hpp"
#include "log.hpp"
#include "migration.hpp"
#include "pg_connection.hpp"
#include "pg_worker.hpp"
#include "queue_store.hpp"
#include "store_error.hpp"
#include "user_generation.hpp"
#include "user_store.hpp"

namespace missive::schema {
extern const std::vector<db::migration> postgresql_migrations;
}

namespace missive {

namespace {

// Reader connections: POP3 retrievals, password checks, admin queries.
constexpr int reader_threads = 2;
// The advisory lock (two-key form, apart from the maildrops' one-key locks) under which a
// node brings the schema up to date.
constexpr const char* migration_lock = "SELECT pg_advisory_xact_lock(1836282729, 1)";
// The channels of change notification.
constexpr const char* due_channel = "missive_due";
constexpr const char* users_channel = "missive_users";
// How often the listener looks up from its socket (to stop, or to reconnect).
constexpr int listener_poll_ms = 200;
// How often the maildrop locks' connection is used when idle: see check_maildrop_locks.
constexpr auto lock_check_interval = std::chrono::seconds(1);

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Applies the migrations newer than the database, all in one transaction under the lock.
void migrate(pg::connection& db) {
  pg::transaction tx(db);
  db.exec(migration_lock);
  db.exec("CREATE TABLE IF NOT EXISTS missive_schema (version integer NOT NULL)");
  int version = static_cast<int>(
      db.prepare("SELECT coalesce(max(version), 0) FROM missive_schema").single_int().value_or(0));
  const auto& migrations = schema::postgresql_migrations;
  int newest = migrations.empty() ? 0 : migrations.back().version;
  if (version > newest) {
    throw store_error(store_error::kind::permanent,
                      fmt::format("the PostgreSQL schema is at version {}, newer than this "
                                  "missived knows ({}): upgrade missived",
                                  version, newest));
  }
  for (const auto& m : migrations) {
    if (m.version <= version) continue;
    db.exec(m.sql);
    db.prepare("INSERT INTO missive_schema(version) VALUES (?1)").bind(1, m.version).run();
    log::info("storage", "event=migrated schema=postgresql version={} name={}", m.version, m.name);
  }
  tx.commit();
}

// Runs `work` on a fresh connection, outside the workers (start-up only).
template <typename Function>
void at_start(const std::string& url, Function work) {
  try {
    pg::connection db(url);
    work(db);
  } catch (const pg::error&) {
    std::rethrow_exception(as_store_error_pg(std::current_exception()));
  }
}

}  // namespace

pg_store::pg_store(pg_store_settings settings, queue_policy policy, opening purpose)
    : settings_(std::move(settings)), policy_(std::move(policy)) {
  // The relay maps the counter file before `user …` on this host may raise it.
  if (purpose == opening::relay && !settings_.data_dir.empty()) {
    prepare_data_directory(settings_.data_dir);
  }
  local_user_changes_ = std::make_unique<user_generation>(
      settings_.data_dir.empty() ? std::filesystem::path() : user_generation_file(settings_.data_dir));
  at_start(settings_.url, [&](pg::connection& db) {
    migrate(db);
    if (purpose == opening::relay) {
      // Crash recovery: what this node had under way goes back to the queue at once; other
      // nodes' leases are theirs until they end.
      db.prepare("UPDATE recipient SET lease_node = NULL, lease_until = NULL WHERE lease_node = ?1")
          .bind(1, settings_.node)
          .run();
    }
  });
  auto name = [this](const char* role) { return fmt::format("missived {} {}", settings_.node, role); };
  writer_ = std::make_unique<pg_worker>(settings_.url, name("writer"),
                                        pg_worker::mode::group_commit, 1);
  readers_ = std::make_unique<pg_worker>(settings_.url, name("reader"),
                                         pg_worker::mode::independent, reader_threads);
  // A new connection for the maildrop locks (the old one broke) takes back those it held.
  locks_ = std::make_unique<pg_worker>(settings_.url, name("locks"), pg_worker::mode::independent,
                                       1, [this](pg::connection& db) { retake_maildrop_locks(db); });
  if (purpose == opening::relay) listener_ = std::thread([this] { listen_for_changes(); });
}

pg_store::~pg_store() {
  stopping_ = true;
  if (listener_.joinable()) listener_.join();
}

void pg_store::renew_leases() {
  // Every claim this node holds is a delivery under way: while the node lives, they last.
  std::int64_t until = unix_now() + settings_.lease.count();
  writer_->submit(
      [this, until](pg::connection& db) {
        db.prepare("UPDATE recipient SET lease_until = ?2 WHERE lease_node = ?1 "
                   "AND lease_until IS NOT NULL AND state IN ('queued', 'deferred')")
            .bind(1, settings_.node)
            .bind(2, until)
            .run();
      },
      [](std::exception_ptr) {});
}

void pg_store::listen_for_changes() {
  std::unique_ptr<pg::connection> db;
  auto last_try = std::chrono::steady_clock::time_point{};
  auto last_renewal = std::chrono::steady_clock::now();
  auto last_lock_check = last_renewal;
  // A third of the lease: two renewals may fail (PostgreSQL restarting) before it ends.
  const auto renewal_interval = std::max<std::chrono::steady_clock::duration>(
      settings_.lease / 3, std::chrono::seconds(1));
  while (!stopping_) {
    if (std::chrono::steady_clock::now() - last_renewal >= renewal_interval) {
      last_renewal = std::chrono::steady_clock::now();
      renew_leases();
    }
    if (std::chrono::steady_clock::now() - last_lock_check >= lock_check_interval) {
      last_lock_check = std::chrono::steady_clock::now();
      check_maildrop_locks();
    }
    if (!db || !db->ok()) {
      db.reset();
      auto now = std::chrono::steady_clock::now();
      if (now - last_try < std::chrono::seconds(1)) {
        ::poll(nullptr, 0, listener_poll_ms);
        continue;
      }
      last_try = now;
      try {
        db = std::make_unique<pg::connection>(settings_.url,
                                              fmt::format("missived {} listener", settings_.node));
        db->exec(fmt::format("LISTEN {}; LISTEN {}", due_channel, users_channel));
      } catch (const std::exception& e) {
        db.reset();
        continue;
      }
      // Whatever was announced while not listening is treated as said.
      ++users_version_;
      std::lock_guard lock(wake_mutex_);
      if (wake_) wake_();
      continue;
    }
    pollfd fd{PQsocket(db->handle()), POLLIN, 0};
    if (::poll(&fd, 1, listener_poll_ms) <= 0) continue;
    if (PQconsumeInput(db->handle()) == 0) continue;  // the connection broke: made again above
    while (PGnotify* note = PQnotifies(db->handle())) {
      std::string channel = note->relname;
      PQfreemem(note);
      if (channel == users_channel) {
        ++users_version_;
      } else {
        std::lock_guard lock(wake_mutex_);
        if (wake_) wake_();
      }
    }
  }
}

void pg_store::on_due_work(std::function<void()> wake) {
  std::lock_guard lock(wake_mutex_);
  wake_ = std::move(wake);
}

asio::awaitable<std::vector<delivery_outcome>> pg_store::store_message(incoming_message message) {
  if (wants_success_notice(message)) {
    // A success DSN is written after the message, in its transaction: not pipelined.
    return writer_->run([message = std::move(message), this](pg::connection& db) {
      return accept_message(db, message, policy_);
    });
  }
  // In two parts, so that the writer sends a whole batch of messages in one pipeline.
  auto shared = std::make_shared<const incoming_message>(std::move(message));
  return writer_->run(two_part_job{
      [shared](pg::connection& db) { send_message_insert(db, *shared); },
      [shared](pg::connection& db) { return receive_message_insert(db, *shared); }});
}

asio::awaitable<std::optional<std::string>> pg_store::local_user(std::string address) {
  return readers_->run([address = std::move(address)](pg::connection& db) {
    auto user = find_user(db, address);
    return user ? std::optional<std::string>(std::move(user->address)) : std::nullopt;
  });
}

asio::awaitable<expansion> pg_store::resolve_recipient(std::string address,
                                                      expansion_options options) {
  return readers_->run([address = std::move(address), options = std::move(options)](
                           pg::connection& db) {
    return resolve_stored_recipient(db, address, options);
  });
}

asio::awaitable<std::optional<user_credentials>> pg_store::credentials(std::string address) {
  return readers_->run([address = std::move(address)](pg::connection& db) {
    auto user = find_user(db, address);
    if (!user) return std::optional<user_credentials>();
    return std::optional<user_credentials>(
        user_credentials{user->id, std::move(user->address), std::move(user->password_hash)});
  });
}

std::optional<std::uint64_t> pg_store::users_version() const {
  // Both only go up: their sum changes whenever either does.
  std::uint64_t local = local_user_changes_->usable() ? local_user_changes_->value() : 0;
  return users_version_.load() + local;
}

bool pg_store::announce_user_change() {
  // The NOTIFY went with the change's commit; the counter file reaches this host's relay
  // before the command returns.
  if (local_user_changes_->usable()) local_user_changes_->bump();
  return true;
}

asio::awaitable<std::vector<maildrop_entry>> pg_store::maildrop(std::int64_t user_id) {
  return readers_->run([user_id](pg::connection& db) { return maildrop_entries(db, user_id); });
}

asio::awaitable<std::string> pg_store::message_content(std::int64_t entry_id) {
  return readers_->run([entry_id](pg::connection& db) { return maildrop_message(db, entry_id); });
}

asio::awaitable<std::vector<std::string>> pg_store::message_contents(std::vector<std::int64_t> entry_ids) {
  return readers_->run([ids = std::move(entry_ids)](pg::connection& db) { return maildrop_messages(db, ids); });
}

asio::awaitable<void> pg_store::remove_entries(std::vector<std::int64_t> entry_ids) {
  // A few hundred per transaction, as on SQLite: other sessions' mail commits in between.
  constexpr std::size_t part_size = 256;
  for (std::size_t start = 0; start < entry_ids.size(); start += part_size) {
    auto first = entry_ids.begin() + static_cast<std::ptrdiff_t>(start);
    auto last = entry_ids.begin() +
                static_cast<std::ptrdiff_t>(std::min(start + part_size, entry_ids.size()));
    // Named, not a temporary: GCC 12 destroys a temporary closure in co_await twice.
    auto remove_part = [part = std::vector<std::int64_t>(first, last)](pg::connection& db) {
      remove_maildrop_entries(db, part);
    };
    co_await writer_->run(std::move(remove_part));
  }
}

void pg_store::check_maildrop_locks() {
  // A broken connection is noticed (and made again, taking its locks back) only when used.
  locks_->submit(
      [this](pg::connection& db) {
        if (!confirmed_.empty()) db.exec("SELECT 1");
      },
      [](std::exception_ptr) {});
}

void pg_store::retake_maildrop_locks(pg::connection& db) {
  for (auto id = confirmed_.begin(); id != confirmed_.end();) {
    if (db.prepare("SELECT pg_try_advisory_lock(?1)").bind(1, *id).single_int() == 1) {
      ++id;
      continue;
    }
    log::warning("storage",
                 "event=maildrop_lock_lost user_id={} reason=\"the connection holding it broke "
                 "and another node took it meanwhile; two POP3 sessions may share the maildrop\"",
                 *id);
    id = confirmed_.erase(id);
  }
}

asio::awaitable<bool> pg_store::lock_maildrop(std::int64_t user_id) {
  {
    std::lock_guard lock(held_mutex_);
    // Advisory locks are re-entrant within their connection: this node's own sessions are
    // told apart here.
    if (!held_.insert(user_id).second) co_return false;
  }
  bool locked = false;
  try {
    auto take = [this, user_id](pg::connection& db) {
      bool taken =
          db.prepare("SELECT pg_try_advisory_lock(?1)").bind(1, user_id).single_int() == 1;
      if (taken) confirmed_.insert(user_id);
      return taken;
    };
    locked = co_await locks_->run(std::move(take));
  } catch (...) {
    std::lock_guard lock(held_mutex_);
    held_.erase(user_id);
    throw;
  }
  if (!locked) {
    std::lock_guard lock(held_mutex_);
    held_.erase(user_id);
  }
  co_return locked;
}

void pg_store::unlock_maildrop(std::int64_t user_id) {
  {
    std::lock_guard lock(held_mutex_);
    held_.erase(user_id);
  }
  // On the same connection that took it; nobody waits for the answer.
  locks_->submit(
      [this, user_id](pg::connection& db) {
        confirmed_.erase(user_id);
        db.prepare("SELECT pg_advisory_unlock(?1)").bind(1, user_id).single_int();
      },
      [](std::exception_ptr) {});
}

asio::awaitable<std::vector<delivery_outcome>> pg_store::deliver_local_batch(
    std::size_t limit, std::chrono::system_clock::time_point now) {
  return writer_->run(
      [limit, now, this](pg::connection& db) { return deliver_local(db, limit, policy_, now); });
}

asio::awaitable<std::vector<remote_recipient>> pg_store::claim_remote(
    std::size_t limit, std::chrono::system_clock::time_point now) {
  return writer_->run([limit, now, this](pg::connection& db) {
    // Claimed with a lease: rows another node is claiming right now are skipped (SKIP
    // LOCKED), and a lease that ran out (its node died) is taken over.
    auto& claim = db.prepare(
        "UPDATE recipient r SET lease_node = ?3, lease_until = ?4 FROM message m "
        "WHERE m.id = r.message_id AND r.id IN ("
        "  SELECT id FROM recipient WHERE state IN ('queued', 'deferred') AND is_local = 0 "
        "  AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) "
        "  ORDER BY next_attempt_at, id LIMIT ?2 FOR UPDATE SKIP LOCKED) "
        "RETURNING r.id, r.message_id, m.queue_id, COALESCE(r.sender, m.sender), r.address, "
        "r.attempts, m.received_at, r.dsn_notify, coalesce(r.dsn_orcpt, ''), m.dsn_ret, "
        "coalesce(m.dsn_envid, ''), m.delay_warned");
    std::int64_t at = unix_seconds(now);
    claim.bind(1, at)
        .bind(2, static_cast<std::int64_t>(limit))
        .bind(3, settings_.node)
        .bind(4, at + settings_.lease.count());
    std::vector<remote_recipient> claimed;
    while (claim.step()) claimed.push_back(read_claimed(claim));
    claim.reset();
    return claimed;
  });
}

asio::awaitable<void> pg_store::release(std::vector<std::int64_t> recipient_ids) {
  return writer_->run([recipient_ids = std::move(recipient_ids), this](pg::connection& db) {
    auto& release = db.prepare(
        "UPDATE recipient SET lease_node = NULL, lease_until = NULL WHERE id = ?1 "
        "AND lease_node = ?2");
    for (auto id : recipient_ids) release.bind(1, id).bind(2, settings_.node).run();
  });
}

asio::awaitable<std::vector<delivery_outcome>> pg_store::record_decision(
    attempt_decision decision) {
  return writer_->run([decision = std::move(decision), this](pg::connection& db) {
    return missive::record_decision(db, decision, policy_);
  });
}

asio::awaitable<std::optional<std::int64_t>> pg_store::next_due() {
  return readers_->run([](pg::connection& db) {
    // A leased recipient is due again, for anyone, when its lease runs out.
    return db
        .prepare(
            "SELECT min(CASE WHEN lease_until IS NULL THEN next_attempt_at "
            "                ELSE greatest(next_attempt_at, lease_until) END) "
            "FROM recipient WHERE state IN ('queued', 'deferred')")
        .single_int();
  });
}

asio::awaitable<queue_counts> pg_store::queue_gauges(std::chrono::system_clock::time_point now) {
  return readers_->run([now](pg::connection& db) { return count_queue(db, now); });
}

asio::awaitable<void> pg_store::probe_write() {
  return writer_->run([](pg::connection& db) { write_health_probe(db, unix_now()); });
}

asio::awaitable<std::size_t> pg_store::purge_history(std::chrono::seconds keep) {
  constexpr std::size_t batch = 500;
  std::size_t removed = 0;
  auto purge_batch = [keep](pg::connection& db) {
    return purge_finished(db, unix_now() - keep.count(), batch);
  };
  for (;;) {
    std::size_t now_removed = co_await writer_->run(purge_batch);
    removed += now_removed;
    if (now_removed < batch) co_return removed;
  }
}

asio::awaitable<std::string> pg_store::queued_body(std::int64_t message_id) {
  return readers_->run([message_id](pg::connection& db) { return message_body(db, message_id); });
}

std::uint64_t pg_store::write_batches() const { return writer_->batches(); }

asio::awaitable<std::vector<std::string>> pg_store::users() {
  return readers_->run([](pg::connection& db) { return list_users(db); });
}

asio::awaitable<bool> pg_store::user_exists(std::string address) {
  return readers_->run([address = std::move(address)](pg::connection& db) {
    return find_user_id(db, address).has_value();
  });
}

// A user change tells every node to forget what it knew of users, on commit.
asio::awaitable<bool> pg_store::add_user(std::string address, std::string password_hash) {
  return writer_->run([address = std::move(address), hash = std::move(password_hash)](
                          pg::connection& db) {
    bool added = missive::add_user(db, address, hash);
    if (added) db.exec(fmt::format("NOTIFY {}", users_channel));
    return added;
  });
}

asio::awaitable<bool> pg_store::delete_user(std::string address) {
  return writer_->run([address = std::move(address)](pg::connection& db) {
    bool deleted = missive::delete_user(db, address);
    if (deleted) db.exec(fmt::format("NOTIFY {}", users_channel));
    return deleted;
  });
}

asio::awaitable<bool> pg_store::set_password(std::string address, std::string password_hash) {
  return writer_->run([address = std::move(address), hash = std::move(password_hash)](
                          pg::connection& db) {
    bool set = set_password_hash(db, address, hash);
    if (set) db.exec(fmt::format("NOTIFY {}", users_channel));
    return set;
  });
}

asio::awaitable<std::vector<alias_entry>> pg_store::aliases() {
  return readers_->run([](pg::connection& db) { return list_aliases(db); });
}

// An alias change is a user change to the relays: what they remember of recipients goes.
asio::awaitable<std::size_t> pg_store::add_alias(std::string source, std::vector<std::string> targets) {
  return writer_->run([source = std::move(source), targets = std::move(targets)](
                          pg::connection& db) {
    std::size_t added = add_alias_targets(db, source, targets);
    if (added > 0) db.exec(fmt::format("NOTIFY {}", users_channel));
    return added;
  });
}

asio::awaitable<bool> pg_store::delete_alias(std::string source) {
  return writer_->run([source = std::move(source)](pg::connection& db) {
    bool deleted = missive::delete_alias(db, source);
    if (deleted) db.exec(fmt::format("NOTIFY {}", users_channel));
    return deleted;
  });
}

asio::awaitable<std::vector<message_summary>> pg_store::pending_messages() {
  return readers_->run([](pg::connection& db) { return missive::pending_messages(db); });
}

asio::awaitable<std::optional<message_story>> pg_store::story(std::string queue_id) {
  return readers_->run([queue_id = std::move(queue_id)](pg::connection& db) {
    return find_message_story(db, queue_id);
  });
}

asio::awaitable<std::optional<std::size_t>> pg_store::make_due(std::optional<std::string> queue_id) {
  // Every node's scheduler looks at the queue once this commits.
  return writer_->run([queue_id = std::move(queue_id)](pg::connection& db) {
    auto made = make_due_now(db, queue_id);
    if (made) db.exec(fmt::format("NOTIFY {}", due_channel));
    return made;
  });
}

asio::awaitable<bool> pg_store::delete_message(std::string queue_id) {
  return writer_->run([queue_id = std::move(queue_id)](pg::connection& db) {
    return missive::delete_message(db, queue_id);
  });
}

}  // namespace missive
