// Schema migrations: see migration.hpp.
#include "migration.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "db.hpp"

namespace missive::db {

void migrate(connection& db, const std::vector<migration>& migrations, std::string_view what) {
  auto& version_query = db.prepare("PRAGMA user_version");
  version_query.step();
  int current = static_cast<int>(version_query.column_int(0));
  version_query.reset();

  int newest = migrations.empty() ? 0 : migrations.back().version;
  if (current > newest) {
    throw schema_too_new(fmt::format(
        "the {} database has schema version {}, newer than the {} this program knows; "
        "run a newer version of Missive or restore a backup",
        what, current, newest));
  }
  for (const auto& step : migrations) {
    if (step.version <= current) continue;
    try {
      transaction tx(db);
      // Another process may have migrated since the version was read (two clients started
      // at once on a new store): the version is read again under the write lock.
      auto& again = db.prepare("PRAGMA user_version");
      again.step();
      const int now = static_cast<int>(again.column_int(0));
      again.reset();
      if (now >= step.version) {
        current = now;
        continue;  // the transaction rolls back: nothing was written
      }
      db.exec(step.sql);
      db.exec(fmt::format("PRAGMA user_version = {}", step.version));
      tx.commit();
    } catch (const error& e) {
      // Rolled back: the database stays at the last version that applied.
      throw error(fmt::format("the {} database could not be brought from schema version {} "
                              "to {} ({}): {}; it is unchanged at version {}",
                              what, current, step.version, step.name, e.what(), current),
                  e.code());
    }
    current = step.version;
  }
}

}  // namespace missive::db
