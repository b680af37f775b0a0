// The store's SQL is written once for both databases (queue_store, user_store): function
// templates over the connection type, instantiated for SQLite (common/db.hpp) and for
// PostgreSQL (pg_connection.hpp). Where the two dialects differ, a statement names both.
#pragma once

#include <type_traits>

namespace missive {

namespace db {
class connection;
}
namespace pg {
class connection;
}

// Whether statements on `Db` go to PostgreSQL.
template <class Db>
inline constexpr bool on_postgres = std::is_same_v<Db, pg::connection>;

// The statement for the dialect of `Db`.
template <class Db>
constexpr const char* dialect(const char* sqlite, const char* postgres) {
  return on_postgres<Db> ? postgres : sqlite;
}

}  // namespace missive
