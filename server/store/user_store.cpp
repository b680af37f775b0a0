// Local users in the database: see user_store.hpp.
#include "user_store.hpp"

#include <sqlite3.h>

#include <ctime>

#include "db.hpp"
#include "queue_store.hpp"

namespace missive {

bool add_user(db::connection& db, std::string_view address, std::string_view password_hash) {
  auto& insert = db.prepare(
      "INSERT INTO user(address, password_hash, created_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(address) DO NOTHING");
  insert.bind(1, address).bind(2, password_hash).bind(3, std::int64_t{std::time(nullptr)});
  insert.run();
  return db.changes() == 1;
}

bool delete_user(db::connection& db, std::string_view address) {
  auto user = find_user(db, address);
  if (!user) return false;
  // The messages in the user's maildrop: those nothing else needs go with the user. Only
  // those: other users' mail, and the history of finished messages, are not the user's.
  std::vector<std::int64_t> held;
  auto& find = db.prepare("SELECT DISTINCT message_id FROM recipient WHERE mailbox_user_id = ?1");
  find.bind(1, user->id);
  while (find.step()) held.push_back(find.column_int(0));
  find.reset();
  // The maildrop empties with the user (as ON DELETE SET NULL would; said here to be seen).
  db.prepare("UPDATE recipient SET mailbox_user_id = NULL WHERE mailbox_user_id = ?1")
      .bind(1, user->id)
      .run();
  db.prepare("DELETE FROM user WHERE id = ?1").bind(1, user->id).run();
  for (auto message_id : held) collect_message(db, message_id);
  return true;
}

bool set_password_hash(db::connection& db, std::string_view address, std::string_view hash) {
  db.prepare("UPDATE user SET password_hash = ?2 WHERE address = ?1")
      .bind(1, address)
      .bind(2, hash)
      .run();
  return db.changes() == 1;
}

std::vector<std::string> list_users(db::connection& db) {
  auto& query = db.prepare("SELECT address FROM user ORDER BY address COLLATE NOCASE");
  std::vector<std::string> out;
  while (query.step()) out.push_back(query.column_text(0));
  query.reset();
  return out;
}

std::optional<user_record> find_user(db::connection& db, std::string_view address) {
  auto& query = db.prepare("SELECT id, address, password_hash FROM user WHERE address = ?1");
  query.bind(1, address);
  std::optional<user_record> out;
  if (query.step()) out = user_record{query.column_int(0), query.column_text(1), query.column_text(2)};
  query.reset();
  return out;
}

std::optional<std::int64_t> find_user_id(db::connection& db, std::string_view address) {
  return db.prepare("SELECT id FROM user WHERE address = ?1").bind(1, address).single_int();
}

}  // namespace missive
