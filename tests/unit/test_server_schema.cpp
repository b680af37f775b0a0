// Unit tests for the relay's schema migrations on real files: an older database is brought
// up to date with its rows intact.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "db.hpp"
#include "mail_store.hpp"
#include "migration.hpp"

namespace missive::schema {
extern const std::vector<db::migration> server_migrations;
}

using namespace missive;

namespace {

std::int64_t count(db::connection& db, const std::string& sql) {
  auto& query = db.prepare(sql);
  REQUIRE(query.step());
  auto n = query.column_int(0);
  query.reset();
  return n;
}

}  // namespace

TEST_CASE("migration 2: recipients survive, the state rule holds, no temporary b-tree per row") {
  auto dir = std::filesystem::temp_directory_path() /
             ("missive-schema-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / "missive.db";
  {
    // A database as version 1 left it, with a message and two recipients in it.
    db::connection db(path.string());
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA foreign_keys = ON");
    std::vector<db::migration> first(schema::server_migrations.begin(),
                                     schema::server_migrations.begin() + 1);
    REQUIRE(first.front().version == 1);
    db::migrate(db, first, "relay");
    db.exec("INSERT INTO message(id, queue_id, sender, size, received_at, client, body) "
            "VALUES (7, 'Q1', 'a@x.test', 3, 100, 'h [127.0.0.1]', x'414243')");
    db.exec("INSERT INTO recipient(id, message_id, address, is_local, state, attempts, "
            "next_attempt_at, last_attempt_at, last_reply, in_flight) VALUES "
            "(11, 7, 'b@y.test', 0, 'deferred', 2, 500, 400, '451 later', 1), "
            "(12, 7, 'c@x.test', 1, 'delivered', 1, 100, 100, NULL, 0)");
  }
  prepare_database(path);  // applies what is missing
  db::connection db(path.string());
  db.exec("PRAGMA foreign_keys = ON");
  CHECK(count(db, "PRAGMA user_version") == static_cast<std::int64_t>(schema::server_migrations.back().version));
  CHECK(count(db, "SELECT count(*) FROM recipient WHERE id = 11 AND message_id = 7 AND "
                  "address = 'b@y.test' AND is_local = 0 AND state = 'deferred' AND attempts = 2 "
                  "AND next_attempt_at = 500 AND last_attempt_at = 400 AND "
                  "last_reply = '451 later' AND in_flight = 1") == 1);
  CHECK(count(db, "SELECT count(*) FROM recipient WHERE id = 12 AND state = 'delivered' AND "
                  "last_reply IS NULL") == 1);
  // Both indexes are back, the due one still partial.
  CHECK(count(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND "
                  "name IN ('recipient_message', 'recipient_due')") == 2);
  CHECK(count(db, "SELECT count(*) FROM recipient INDEXED BY recipient_due "
                  "WHERE next_attempt_at <= 1000 AND state IN ('queued', 'deferred')") == 1);
  // The rule is the same: a state outside the four is refused.
  CHECK_THROWS(db.exec("INSERT INTO recipient(message_id, address, is_local, state, "
                       "next_attempt_at) VALUES (7, 'd@y.test', 0, 'lost', 1)"));
  db.exec("INSERT INTO recipient(message_id, address, is_local, state, next_attempt_at) "
          "VALUES (7, 'd@y.test', 0, 'queued', 1)");
  // The cascade from message still works.
  db.exec("DELETE FROM message WHERE id = 7");
  CHECK(count(db, "SELECT count(*) FROM recipient") == 0);
  // What the migration is for: writing a recipient builds no temporary b-tree.
  auto& plan = db.prepare("EXPLAIN INSERT INTO recipient(message_id, address, is_local, state, "
                          "next_attempt_at) VALUES (1, 'e@y.test', 0, 'queued', 1)");
  int ephemeral = 0;
  while (plan.step()) ephemeral += plan.column_text(1) == "OpenEphemeral";
  plan.reset();
  CHECK(ephemeral == 0);
  std::filesystem::remove_all(dir);
}
