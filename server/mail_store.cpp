// The relay's storage on SQLite: see mail_store.hpp.
#include "mail_store.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <ctime>

#include "ascii.hpp"
#include "db.hpp"
#include "migration.hpp"
#include "password_hash.hpp"
#include "sqlite_worker.hpp"
#include "user_store.hpp"

namespace missive::schema {
extern const std::vector<db::migration> server_migrations;
}

namespace missive {

namespace {

// Reader threads: POP3 retrievals and password checks run here, off the network thread.
constexpr int reader_threads = 2;

// How long mail for a postmaster without a mailbox waits before it is looked at again.
constexpr std::int64_t postmaster_retry_seconds = 60;

std::int64_t unix_now() { return std::time(nullptr); }

void add_event(db::connection& db, std::int64_t message_id, std::string_view recipient,
               std::string_view kind, std::string_view detail) {
  auto& insert = db.prepare(
      "INSERT INTO event(message_id, at, recipient, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
  insert.bind(1, message_id).bind(2, unix_now());
  if (recipient.empty()) insert.bind_null(3);
  else insert.bind(3, recipient);
  insert.bind(4, kind).bind(5, detail).run();
}

void insert_message(db::connection& db, const incoming_message& message) {
  auto& insert = db.prepare(
      "INSERT INTO message(queue_id, sender, size, received_at, client, body) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  insert.bind(1, message.queue_id)
      .bind(2, message.sender)
      .bind(3, static_cast<std::int64_t>(message.body.size()))
      .bind(4, unix_now())
      .bind(5, message.client)
      .bind_blob(6, message.body)
      .run();
  std::int64_t message_id = db.last_insert_rowid();
  add_event(db, message_id, "", "accepted",
            fmt::format("from=<{}> client={} size={} nrcpt={}", message.sender, message.client,
                        message.body.size(), message.recipients.size()));
  auto& add_recipient = db.prepare(
      "INSERT INTO recipient(message_id, address, is_local, state, next_attempt_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  for (const auto& recipient : message.recipients) {
    // Remote delivery is the relay-routing issue's; until then non-local mail waits.
    const char* state = recipient.is_local ? "queued" : "deferred";
    add_recipient.bind(1, message_id)
        .bind(2, recipient.address)
        .bind(3, std::int64_t{recipient.is_local})
        .bind(4, state)
        .bind(5, unix_now())
        .run();
    if (!recipient.is_local) {
      add_event(db, message_id, recipient.address, "deferred",
                "remote delivery is not available yet");
    }
  }
}

// A local recipient that is due, with what its delivery needs.
struct due_recipient {
  std::int64_t id;
  std::int64_t message_id;
  std::string address;
  std::string queue_id;
  std::int64_t received_at;
};

std::vector<due_recipient> select_due_local(db::connection& db, std::size_t limit) {
  auto& query = db.prepare(
      "SELECT r.id, r.message_id, r.address, m.queue_id, m.received_at "
      "FROM recipient r JOIN message m ON m.id = r.message_id "
      "WHERE r.state = 'queued' AND r.is_local = 1 AND r.next_attempt_at <= ?1 "
      "ORDER BY r.id LIMIT ?2");
  query.bind(1, unix_now()).bind(2, static_cast<std::int64_t>(limit));
  std::vector<due_recipient> due;
  while (query.step()) {
    due.push_back({query.column_int(0), query.column_int(1), query.column_text(2),
                   query.column_text(3), query.column_int(4)});
  }
  query.reset();
  return due;
}

// Delivers one recipient: the mailbox entry and the recipient's new state are written in
// the same transaction, so a crash neither loses nor duplicates the delivery.
delivery_outcome deliver_one(db::connection& db, const due_recipient& recipient) {
  delivery_outcome outcome{recipient.queue_id, recipient.address, "bounced",
                           unix_now() - recipient.received_at, ""};
  auto user = find_user(db, recipient.address);
  auto& update = db.prepare(
      "UPDATE recipient SET state = ?2, attempts = attempts + 1, last_reply = ?3 WHERE id = ?1");
  if (!user && iequals(recipient.address.substr(0, recipient.address.find('@')), "postmaster")) {
    // Accepted for postmaster (RFC 5321 4.5.1) with no such mailbox yet: keep it queued
    // until an operator adds the user; the periodic sweep delivers it then.
    outcome.status = "deferred";
    outcome.detail = "no mailbox for postmaster yet; add the user to receive it";
    update.bind(1, recipient.id).bind(2, "queued").bind(3, outcome.detail).run();
    db.prepare("UPDATE recipient SET next_attempt_at = ?2 WHERE id = ?1")
        .bind(1, recipient.id)
        .bind(2, unix_now() + postmaster_retry_seconds)
        .run();
    add_event(db, recipient.message_id, recipient.address, "deferred", outcome.detail);
    return outcome;
  }
  if (!user) {
    // The user was deleted after the message was accepted.
    outcome.detail = "5.1.1 no such local user";
    update.bind(1, recipient.id).bind(2, "failed").bind(3, outcome.detail).run();
    add_event(db, recipient.message_id, recipient.address, "failed", outcome.detail);
    return outcome;
  }
  db.prepare(
        "INSERT INTO mailbox_entry(user_id, message_id, uid, delivered_at) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, user->id)
      .bind(2, recipient.message_id)
      .bind(3, fmt::format("{}.{}", recipient.queue_id, recipient.id))
      .bind(4, unix_now())
      .run();
  outcome.status = "sent";
  outcome.detail = "delivered to mailbox";
  update.bind(1, recipient.id).bind(2, "delivered").bind(3, "2.0.0 " + outcome.detail).run();
  add_event(db, recipient.message_id, recipient.address, "delivered", "local mailbox");
  return outcome;
}

// Removes message bodies that no mailbox and no pending recipient needs any more.
void collect_message(db::connection& db, std::int64_t message_id) {
  db.prepare(
        "DELETE FROM message WHERE id = ?1 "
        "AND NOT EXISTS (SELECT 1 FROM mailbox_entry WHERE message_id = ?1) "
        "AND NOT EXISTS (SELECT 1 FROM recipient WHERE message_id = ?1 "
        "                AND state IN ('queued', 'deferred'))")
      .bind(1, message_id)
      .run();
}

}  // namespace

void prepare_database(const std::filesystem::path& database) {
  auto dir = database.parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    std::filesystem::create_directories(dir);
    ::chmod(dir.c_str(), 0700);
  }
  db::connection db(database.string());
  ::chmod(database.c_str(), 0600);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA foreign_keys = ON");
  db::migrate(db, schema::server_migrations, "relay");
}

mail_store::mail_store(const std::filesystem::path& database) {
  prepare_database(database);
  writer_ = std::make_unique<sqlite_worker>(database, sqlite_worker::mode::group_commit, 1);
  readers_ = std::make_unique<sqlite_worker>(database, sqlite_worker::mode::independent,
                                             reader_threads);
}

mail_store::~mail_store() = default;

asio::awaitable<void> mail_store::store_message(incoming_message message) {
  return writer_->run([message = std::move(message)](db::connection& db) {
    insert_message(db, message);
  });
}

asio::awaitable<std::optional<std::string>> mail_store::local_user(std::string address) {
  return readers_->run([address = std::move(address)](db::connection& db) {
    auto user = find_user(db, address);
    return user ? std::optional<std::string>(std::move(user->address)) : std::nullopt;
  });
}

asio::awaitable<std::optional<user_identity>> mail_store::authenticate(std::string address,
                                                                       std::string password) {
  return readers_->run([address = std::move(address), password = std::move(password)](
                                       db::connection& db) -> std::optional<user_identity> {
    auto user = find_user(db, address);
    if (!user) {
      burn_password_check_time(password);
      return std::nullopt;
    }
    if (!verify_password(password, user->password_hash)) return std::nullopt;
    return user_identity{user->id, user->address};
  });
}

asio::awaitable<std::vector<maildrop_entry>> mail_store::maildrop(std::int64_t user_id) {
  return readers_->run([user_id](db::connection& db) {
    auto& query = db.prepare(
        "SELECT e.id, e.uid, m.size FROM mailbox_entry e JOIN message m ON m.id = e.message_id "
        "WHERE e.user_id = ?1 ORDER BY e.id");
    query.bind(1, user_id);
    std::vector<maildrop_entry> entries;
    while (query.step()) {
      entries.push_back({query.column_int(0), query.column_text(1),
                         static_cast<std::uint64_t>(query.column_int(2))});
    }
    query.reset();
    return entries;
  });
}

asio::awaitable<std::string> mail_store::message_content(std::int64_t entry_id) {
  return readers_->run([entry_id](db::connection& db) {
    auto& query = db.prepare(
        "SELECT m.body FROM mailbox_entry e JOIN message m ON m.id = e.message_id "
        "WHERE e.id = ?1");
    query.bind(1, entry_id);
    if (!query.step()) {
      query.reset();
      throw std::runtime_error(fmt::format("maildrop entry {} is gone", entry_id));
    }
    std::string body(query.column_view(0));
    query.reset();
    return body;
  });
}

asio::awaitable<void> mail_store::remove_entries(std::vector<std::int64_t> entry_ids) {
  return writer_->run([entry_ids = std::move(entry_ids)](db::connection& db) {
    auto& find = db.prepare("SELECT message_id FROM mailbox_entry WHERE id = ?1");
    auto& remove = db.prepare("DELETE FROM mailbox_entry WHERE id = ?1");
    for (auto id : entry_ids) {
      find.bind(1, id);
      if (!find.step()) {
        find.reset();
        continue;
      }
      std::int64_t message_id = find.column_int(0);
      find.reset();
      remove.bind(1, id).run();
      collect_message(db, message_id);
    }
  });
}

asio::awaitable<std::vector<delivery_outcome>> mail_store::deliver_local_batch(std::size_t limit) {
  return writer_->run([limit](db::connection& db) {
    std::vector<delivery_outcome> outcomes;
    for (const auto& recipient : select_due_local(db, limit)) {
      outcomes.push_back(deliver_one(db, recipient));
    }
    return outcomes;
  });
}

std::uint64_t mail_store::write_batches() const { return writer_->batches(); }

}  // namespace missive
