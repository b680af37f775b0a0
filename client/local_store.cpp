// The client's local store: see local_store.hpp.
#include "local_store.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "message_headers.hpp"
#include "migration.hpp"
#include "mime_encoding.hpp"
#include "mime_parse.hpp"
#include "search_text.hpp"
#include "unix_time.hpp"

namespace missive::schema {
extern const std::vector<db::migration> client_migrations;
}

namespace missive::client {

namespace {

// Opens the database file, creating its folder (mode 0700: mail is private).
std::string prepare_path(const std::string& data_dir) {
  std::filesystem::create_directories(data_dir);
  ::chmod(data_dir.c_str(), 0700);
  return (std::filesystem::path(data_dir) / "missive-client.db").string();
}

// Turns the store to WAL. A new file needs a moment alone for it, and SQLite answers BUSY at
// once, without waiting in its busy handler, to a client that asks while another is doing it
// (several clients started together on a new store, a cron job beside `missive watch`):
// asked again for up to five seconds.
void use_wal(db::connection& db) {
  for (int attempt = 0;; ++attempt) {
    try {
      db.exec("PRAGMA journal_mode = WAL");
      return;
    } catch (const db::error& e) {
      if ((e.code() & 0xff) != SQLITE_BUSY || attempt == 100) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

local_store::local_store(const std::string& data_dir) : db_(prepare_path(data_dir)) {
  use_wal(db_);
  // A message is stored durably before the next is fetched (kill -9 at any moment).
  db_.exec("PRAGMA synchronous = FULL");
  db_.exec("PRAGMA foreign_keys = ON");
  db::migrate(db_, schema::client_migrations, "client store");
  index_unindexed();
}

void local_store::index_message(std::int64_t id, std::string_view raw) {
  auto doc = make_search_document(raw);
  db_.prepare("INSERT INTO message_search (rowid, sender, recipients, subject, body) "
              "VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind(1, id)
      .bind(2, doc.sender)
      .bind(3, doc.recipients)
      .bind(4, doc.subject)
      .bind(5, doc.body)
      .run();
  db_.prepare("UPDATE messages SET search_indexed = 1 WHERE id = ?1").bind(1, id).run();
}

void local_store::index_unindexed() {
  // Cheap when there is nothing to do: one lookup in a partial index, no write transaction.
  auto& pending = db_.prepare(
      "SELECT count(*) FROM messages WHERE search_indexed = 0");
  if (pending.single_int().value_or(0) == 0) return;
  db::transaction txn(db_);
  std::vector<std::pair<std::int64_t, std::string>> rows;
  auto& stmt = db_.prepare(
      "SELECT id, raw FROM messages WHERE search_indexed = 0");
  while (stmt.step()) rows.emplace_back(stmt.column_int(0), std::string(stmt.column_view(1)));
  stmt.reset();
  for (const auto& [id, raw] : rows) index_message(id, raw);
  txn.commit();
}

std::set<std::string> local_store::known_uids(const std::string& account) {
  auto& stmt = db_.prepare("SELECT uid FROM messages WHERE account = ?1");
  stmt.bind(1, account);
  std::set<std::string> out;
  while (stmt.step()) out.insert(stmt.column_text(0));
  stmt.reset();
  return out;
}

std::optional<std::int64_t> local_store::insert(const std::string& account, const std::string& uid,
                                                const std::string& raw) {
  auto fields = mime::parse_header_fields(header_section(raw));
  auto field = [&](std::string_view name) {
    auto value = mime::find_field(fields, name);
    return value ? mime::decode_header_value(*value) : std::string();
  };
  const std::string date = field("Date");
  const std::int64_t fetched = now_unix();
  const std::int64_t date_unix = mime::parse_rfc5322_date(date).value_or(fetched);
  db::transaction txn(db_);
  auto& stmt = db_.prepare(
      "INSERT OR IGNORE INTO messages (account, uid, fetched_at, date, date_unix, from_address, "
      "subject, size, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  stmt.bind(1, account).bind(2, uid).bind(3, fetched).bind(4, date).bind(5, date_unix);
  stmt.bind(6, field("From")).bind(7, field("Subject"));
  stmt.bind(8, static_cast<std::int64_t>(raw.size())).bind_blob(9, raw);
  stmt.run();
  bool inserted = db_.changes() == 1;
  std::int64_t id = db_.last_insert_rowid();
  // Searchable as soon as it is stored: the same transaction.
  if (inserted) index_message(id, raw);
  txn.commit();
  if (!inserted) return std::nullopt;
  return id;
}

std::vector<stored_summary> local_store::list() {
  auto& stmt = db_.prepare(
      "SELECT id, date_unix, from_address, subject, size, seen FROM messages "
      "WHERE deleted_locally = 0 ORDER BY date_unix DESC, id DESC");
  std::vector<stored_summary> out;
  while (stmt.step()) {
    out.push_back({stmt.column_int(0), stmt.column_int(1), stmt.column_text(2),
                   stmt.column_text(3), stmt.column_int(4), stmt.column_int(5) != 0});
  }
  stmt.reset();
  return out;
}

std::vector<stored_summary> local_store::search(const std::string& match) {
  auto& stmt = db_.prepare(
      "SELECT m.id, m.date_unix, m.from_address, m.subject, m.size, m.seen "
      "FROM message_search JOIN messages m ON m.id = message_search.rowid "
      "WHERE message_search MATCH ?1 AND m.deleted_locally = 0 "
      "ORDER BY m.date_unix DESC, m.id DESC");
  stmt.bind(1, match);
  std::vector<stored_summary> out;
  try {
    while (stmt.step()) {
      out.push_back({stmt.column_int(0), stmt.column_int(1), stmt.column_text(2),
                     stmt.column_text(3), stmt.column_int(4), stmt.column_int(5) != 0});
    }
  } catch (...) {
    stmt.reset();
    throw;
  }
  stmt.reset();
  return out;
}

std::vector<std::pair<stored_summary, std::string>> local_store::list_with_headers() {
  auto& stmt = db_.prepare(
      "SELECT id, date_unix, from_address, subject, size, seen, raw FROM messages "
      "WHERE deleted_locally = 0 ORDER BY date_unix DESC, id DESC");
  std::vector<std::pair<stored_summary, std::string>> out;
  while (stmt.step()) {
    stored_summary summary{stmt.column_int(0), stmt.column_int(1), stmt.column_text(2),
                           stmt.column_text(3), stmt.column_int(4), stmt.column_int(5) != 0};
    out.emplace_back(std::move(summary), std::string(header_section(stmt.column_view(6))));
  }
  stmt.reset();
  return out;
}

std::optional<stored_message> local_store::find(std::int64_t id) {
  auto& stmt = db_.prepare(
      "SELECT id, uid, raw, seen FROM messages WHERE id = ?1 AND deleted_locally = 0");
  stmt.bind(1, id);
  std::optional<stored_message> out;
  if (stmt.step()) {
    out = stored_message{stmt.column_int(0), stmt.column_text(1),
                         std::string(stmt.column_view(2)), stmt.column_int(3) != 0};
  }
  stmt.reset();
  return out;
}

void local_store::mark_seen(std::int64_t id) {
  db::transaction txn(db_);
  db_.prepare("UPDATE messages SET seen = 1 WHERE id = ?1").bind(1, id).run();
  txn.commit();
}

bool local_store::delete_locally(std::int64_t id) {
  db::transaction txn(db_);
  auto& find = db_.prepare("SELECT account, uid FROM messages WHERE id = ?1 AND deleted_locally = 0");
  find.bind(1, id);
  if (!find.step()) {
    find.reset();
    return false;
  }
  std::string account = find.column_text(0);
  std::string uid = find.column_text(1);
  find.reset();
  // The row stays as a tombstone (without its content) so that the next poll does not
  // download the message again before its deletion reaches the server.
  db_.prepare("UPDATE messages SET deleted_locally = 1, raw = X'' WHERE id = ?1").bind(1, id).run();
  db_.prepare("DELETE FROM message_search WHERE rowid = ?1").bind(1, id).run();
  db_.prepare("INSERT OR IGNORE INTO pending_deletions (account, uid, requested_at) "
              "VALUES (?1, ?2, ?3)")
      .bind(1, account)
      .bind(2, uid)
      .bind(3, now_unix())
      .run();
  txn.commit();
  return true;
}

std::set<std::string> local_store::pending_deletions(const std::string& account) {
  auto& stmt = db_.prepare("SELECT uid FROM pending_deletions WHERE account = ?1");
  stmt.bind(1, account);
  std::set<std::string> out;
  while (stmt.step()) out.insert(stmt.column_text(0));
  stmt.reset();
  return out;
}

void local_store::deletions_done(const std::string& account, const std::set<std::string>& uids) {
  if (uids.empty()) return;
  db::transaction txn(db_);
  for (const auto& uid : uids) {
    db_.prepare("DELETE FROM pending_deletions WHERE account = ?1 AND uid = ?2")
        .bind(1, account)
        .bind(2, uid)
        .run();
    db_.prepare("DELETE FROM messages WHERE account = ?1 AND uid = ?2 AND deleted_locally = 1")
        .bind(1, account)
        .bind(2, uid)
        .run();
  }
  txn.commit();
}

}  // namespace missive::client
