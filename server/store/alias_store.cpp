// Aliases in the database: see alias_store.hpp.
#include "alias_store.hpp"

#include "ascii.hpp"
#include "db.hpp"
#include "pg_connection.hpp"
#include "sql_dialect.hpp"
#include "user_store.hpp"

namespace missive {

template <class Db>
std::size_t add_alias_targets(Db& db, std::string_view source, const std::vector<std::string>& targets) {
  // Sources and targets match in any case: the SQLite columns are NOCASE, PostgreSQL
  // indexes lower().
  auto& insert = db.prepare(dialect<Db>(
      "INSERT INTO alias(source, target) VALUES (?1, ?2) ON CONFLICT(source, target) DO NOTHING",
      "INSERT INTO alias(source, target) VALUES (?1, ?2) "
      "ON CONFLICT(lower(source), lower(target)) DO NOTHING"));
  std::size_t added = 0;
  for (const auto& target : targets) {
    insert.bind(1, source).bind(2, target);
    insert.run();
    added += static_cast<std::size_t>(db.changes());
  }
  return added;
}

template <class Db>
bool delete_alias(Db& db, std::string_view source) {
  db.prepare(dialect<Db>("DELETE FROM alias WHERE source = ?1",
                         "DELETE FROM alias WHERE lower(source) = lower(?1)"))
      .bind(1, source)
      .run();
  return db.changes() > 0;
}

template <class Db>
std::vector<alias_entry> list_aliases(Db& db) {
  auto& query = db.prepare(dialect<Db>(
      "SELECT source, target FROM alias ORDER BY source COLLATE NOCASE, id",
      "SELECT source, target FROM alias ORDER BY lower(source), id"));
  std::vector<alias_entry> out;
  while (query.step()) {
    std::string source = query.column_text(0);
    // A source added again in another case is the same alias, listed as first spelled.
    if (out.empty() || !iequals(out.back().source, source)) out.push_back({source, {}});
    out.back().targets.push_back(query.column_text(1));
  }
  query.reset();
  return out;
}

template <class Db>
std::vector<std::string> find_alias_targets(Db& db, std::string_view source) {
  auto& query = db.prepare(dialect<Db>("SELECT target FROM alias WHERE source = ?1 ORDER BY id",
                                       "SELECT target FROM alias WHERE lower(source) = lower(?1) "
                                       "ORDER BY id"));
  query.bind(1, source);
  std::vector<std::string> out;
  while (query.step()) out.push_back(query.column_text(0));
  query.reset();
  return out;
}

namespace {

// The users and aliases of one database, as expansion asks for them.
template <class Db>
class stored_address_book final : public address_book {
 public:
  explicit stored_address_book(Db& db) : db_(db) {}
  std::optional<std::string> user(std::string_view address) override {
    auto found = find_user(db_, address);
    return found ? std::optional<std::string>(std::move(found->address)) : std::nullopt;
  }
  std::vector<std::string> alias_targets(std::string_view source) override {
    return find_alias_targets(db_, source);
  }

 private:
  Db& db_;
};

}  // namespace

template <class Db>
expansion resolve_stored_recipient(Db& db, std::string_view address, const expansion_options& options) {
  stored_address_book<Db> book(db);
  return expand_recipient(address, options, book);
}

// The two connections the store runs on (sql_dialect.hpp).
#define MISSIVE_ALIAS_STORE_FOR(Db)                                                        \
  template std::size_t add_alias_targets(Db&, std::string_view, const std::vector<std::string>&); \
  template bool delete_alias(Db&, std::string_view);                                       \
  template std::vector<alias_entry> list_aliases(Db&);                                     \
  template std::vector<std::string> find_alias_targets(Db&, std::string_view);             \
  template expansion resolve_stored_recipient(Db&, std::string_view, const expansion_options&);
MISSIVE_ALIAS_STORE_FOR(db::connection)
MISSIVE_ALIAS_STORE_FOR(pg::connection)
#undef MISSIVE_ALIAS_STORE_FOR

}  // namespace missive
