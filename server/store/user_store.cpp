// Local users in the database: see user_store.hpp.
#include "user_store.hpp"

#include <ctime>

#include "db.hpp"
#include "pg_connection.hpp"
#include "queue_store.hpp"
#include "sql_dialect.hpp"

namespace missive {

template <class Db>
bool add_user(Db& db, std::string_view address, std::string_view password_hash) {
  auto& insert = db.prepare(dialect<Db>(
      "INSERT INTO user(address, password_hash, created_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(address) DO NOTHING",
      "INSERT INTO \"user\"(address, password_hash, created_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(lower(address)) DO NOTHING"));
  insert.bind(1, address).bind(2, password_hash).bind(3, std::int64_t{std::time(nullptr)});
  insert.run();
  return db.changes() == 1;
}

template <class Db>
bool delete_user(Db& db, std::string_view address) {
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
  db.prepare("DELETE FROM \"user\" WHERE id = ?1").bind(1, user->id).run();
  for (auto message_id : held) collect_message(db, message_id);
  return true;
}

template <class Db>
bool set_password_hash(Db& db, std::string_view address, std::string_view hash) {
  // Addresses match in any case: the SQLite column is NOCASE, PostgreSQL indexes lower().
  db.prepare(dialect<Db>("UPDATE user SET password_hash = ?2 WHERE address = ?1",
                         "UPDATE \"user\" SET password_hash = ?2 WHERE lower(address) = lower(?1)"))
      .bind(1, address)
      .bind(2, hash)
      .run();
  return db.changes() == 1;
}

template <class Db>
std::vector<std::string> list_users(Db& db) {
  auto& query = db.prepare(dialect<Db>("SELECT address FROM user ORDER BY address COLLATE NOCASE",
                                       "SELECT address FROM \"user\" ORDER BY lower(address)"));
  std::vector<std::string> out;
  while (query.step()) out.push_back(query.column_text(0));
  query.reset();
  return out;
}

template <class Db>
std::optional<user_record> find_user(Db& db, std::string_view address) {
  auto& query = db.prepare(
      dialect<Db>("SELECT id, address, password_hash FROM user WHERE address = ?1",
                  "SELECT id, address, password_hash FROM \"user\" WHERE lower(address) = lower(?1)"));
  query.bind(1, address);
  std::optional<user_record> out;
  if (query.step()) out = user_record{query.column_int(0), query.column_text(1), query.column_text(2)};
  query.reset();
  return out;
}

template <class Db>
std::optional<std::int64_t> find_user_id(Db& db, std::string_view address) {
  return db.prepare(dialect<Db>("SELECT id FROM user WHERE address = ?1",
                                "SELECT id FROM \"user\" WHERE lower(address) = lower(?1)"))
      .bind(1, address)
      .single_int();
}

// The two connections the store runs on (sql_dialect.hpp).
#define MISSIVE_USER_STORE_FOR(Db)                                                        \
  template bool add_user(Db&, std::string_view, std::string_view);                        \
  template bool delete_user(Db&, std::string_view);                                       \
  template bool set_password_hash(Db&, std::string_view, std::string_view);               \
  template std::vector<std::string> list_users(Db&);                                      \
  template std::optional<user_record> find_user(Db&, std::string_view);                   \
  template std::optional<std::int64_t> find_user_id(Db&, std::string_view);
MISSIVE_USER_STORE_FOR(db::connection)
MISSIVE_USER_STORE_FOR(pg::connection)
#undef MISSIVE_USER_STORE_FOR

}  // namespace missive
