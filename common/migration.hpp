// Schema migrations: numbered SQL scripts embedded at build time (cmake/embed_schema.cmake)
// and applied in order, tracked by PRAGMA user_version.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace missive::db {

class connection;

// One migration: the schema version it produces, its file name and its SQL.
struct migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// A database whose schema is newer than this program knows.
class schema_too_new : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Brings the database up to the newest migration, each in its own transaction. Throws
// schema_too_new, naming both versions, when the database is newer than this program.
void migrate(connection& db, const std::vector<migration>& migrations, std::string_view what);

}  // namespace missive::db
