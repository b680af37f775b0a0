// Unit tests for the relay's schema migrations on real files: an older database is brought
// up to date with its rows intact.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "db.hpp"
#include "sqlite_store.hpp"
#include "migration.hpp"
#include "queue_store.hpp"

namespace missive::schema {
extern const std::vector<db::migration> server_migrations;
}

using namespace missive;

namespace {

// A directory for one test's database, removed at the end of the test.
struct scratch_directory {
  std::filesystem::path dir;
  explicit scratch_directory(const std::string& name)
      : dir(std::filesystem::temp_directory_path() /
            ("missive-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir);
  }
  ~scratch_directory() { std::filesystem::remove_all(dir); }
  std::filesystem::path database() const { return dir / "missive.db"; }
};

// Opens the database as the relay does and applies the migrations up to `version` only.
std::unique_ptr<db::connection> at_version(const std::filesystem::path& path, int version) {
  auto db = std::make_unique<db::connection>(path.string());
  db->exec("PRAGMA journal_mode = WAL");
  db->exec("PRAGMA foreign_keys = ON");
  std::vector<db::migration> steps(schema::server_migrations.begin(),
                                   schema::server_migrations.begin() + version);
  REQUIRE(steps.back().version == version);
  db::migrate(*db, steps, "relay");
  return db;
}

std::int64_t count(db::connection& db, const std::string& sql) {
  auto& query = db.prepare(sql);
  REQUIRE(query.step());
  auto n = query.column_int(0);
  query.reset();
  return n;
}

}  // namespace

TEST_CASE("migration 2: recipients survive, the state rule holds, no temporary b-tree per row") {
  scratch_directory scratch("schema2-test");
  auto path = scratch.database();
  {
    // A database as version 1 left it, with a message and two recipients in it.
    auto old = at_version(path, 1);
    auto& db = *old;
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
}

TEST_CASE("migration 3: history derived from rows, stored events kept, uids not indexed") {
  scratch_directory scratch("schema3-test");
  auto path = scratch.database();
  {
    // A database as version 2 left it: one message with a local recipient delivered on
    // arrival and a remote one deferred, and the events version 2 wrote for them.
    auto old = at_version(path, 2);
    auto& db = *old;
    db.exec("INSERT INTO user(id, address, password_hash, created_at) "
            "VALUES (3, 'c@x.test', '$scrypt$h', 50)");
    db.exec("INSERT INTO message(id, queue_id, sender, size, received_at, client, body) "
            "VALUES (7, 'Q1', 'a@x.test', 3, 100, 'h [127.0.0.1]', x'414243')");
    db.exec("INSERT INTO recipient(id, message_id, address, is_local, state, attempts, "
            "next_attempt_at, last_attempt_at, last_reply, in_flight) VALUES "
            "(11, 7, 'b@y.test', 0, 'deferred', 1, 500, 160, '451 later', 0), "
            "(12, 7, 'c@x.test', 1, 'delivered', 1, 100, 100, '2.0.0 delivered to mailbox', 0)");
    db.exec("INSERT INTO mailbox_entry(id, user_id, message_id, uid, delivered_at) "
            "VALUES (5, 3, 7, 'Q1.12', 100)");
    db.exec("INSERT INTO event(id, message_id, at, recipient, kind, detail) VALUES "
            "(1, 7, 100, NULL, 'accepted', 'from=<a@x.test> client=h [127.0.0.1] size=3 nrcpt=2'), "
            "(2, 7, 100, 'c@x.test', 'delivered', 'local mailbox'), "
            "(3, 7, 160, 'b@y.test', 'deferred', 'relay=y.test 451 later')");
  }
  auto migrated = at_version(path, 3);
  auto& db = *migrated;
  CHECK(count(db, "PRAGMA user_version") == 3);
  // Only what no other row says is still stored ...
  CHECK(count(db, "SELECT count(*) FROM event") == 1);
  CHECK(count(db, "SELECT count(*) FROM event WHERE id = 3 AND kind = 'deferred'") == 1);
  // ... and the story reads as before, in order, each event once.
  auto& history = db.prepare("SELECT at, kind, ifnull(recipient, '-'), detail FROM message_history "
                             "WHERE message_id = 7 ORDER BY at, rank, position");
  std::vector<std::string> lines;
  while (history.step()) {
    lines.push_back(std::to_string(history.column_int(0)) + " " + history.column_text(1) + " " +
                    history.column_text(2) + " " + history.column_text(3));
  }
  history.reset();
  CHECK(lines == std::vector<std::string>{
                     "100 accepted - from=<a@x.test> client=h [127.0.0.1] size=3 nrcpt=2",
                     "100 delivered c@x.test local mailbox",
                     "160 deferred b@y.test relay=y.test 451 later"});
  // The maildrop entry is intact, its uid no longer behind a unique index.
  CHECK(count(db, "SELECT count(*) FROM mailbox_entry WHERE id = 5 AND user_id = 3 AND "
                  "message_id = 7 AND uid = 'Q1.12' AND delivered_at = 100") == 1);
  CHECK(count(db, "SELECT count(*) FROM pragma_index_list('mailbox_entry') WHERE \"unique\"") == 0);
  CHECK(count(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND "
                  "name IN ('mailbox_entry_user', 'mailbox_entry_message')") == 2);
  // Deleting the user still takes the entry with it.
  db.exec("DELETE FROM user WHERE id = 3");
  CHECK(count(db, "SELECT count(*) FROM mailbox_entry") == 0);
}

namespace {

// A database as version 3 left it: message 7 with two local recipients in maildrops (one
// of them for a user who has another entry too) and a remote one deferred.
void version_3_with_mail(const std::filesystem::path& path, const std::string& odd_uid = "") {
  auto old = at_version(path, 3);
  auto& db = *old;
  db.exec("INSERT INTO user(id, address, password_hash, created_at) VALUES "
          "(3, 'c@x.test', '$scrypt$h', 50), (4, 'd@x.test', '$scrypt$h', 50)");
  db.exec("INSERT INTO message(id, queue_id, sender, size, received_at, client, body) VALUES "
          "(7, 'Q1', 'a@x.test', 3, 100, 'h [127.0.0.1]', x'414243'), "
          "(8, 'Q2', 'a@x.test', 3, 200, 'h [127.0.0.1]', x'444546')");
  db.exec("INSERT INTO recipient(id, message_id, address, is_local, state, attempts, "
          "next_attempt_at, last_attempt_at, last_reply, in_flight) VALUES "
          "(11, 7, 'b@y.test', 0, 'deferred', 1, 500, 160, '451 later', 0), "
          "(12, 7, 'c@x.test', 1, 'delivered', 1, 100, 100, '2.0.0 delivered to mailbox', 0), "
          "(13, 7, 'd@x.test', 1, 'delivered', 1, 100, 100, '2.0.0 delivered to mailbox', 0), "
          "(14, 8, 'd@x.test', 1, 'delivered', 1, 200, 200, '2.0.0 delivered to mailbox', 0)");
  db.exec("INSERT INTO mailbox_entry(id, user_id, message_id, uid, delivered_at) VALUES "
          "(5, 3, 7, 'Q1.12', 100), (6, 4, 7, 'Q1.13', 100), (9, 4, 8, '" +
          (odd_uid.empty() ? std::string("Q2.14") : odd_uid) + "', 200)");
}

}  // namespace

TEST_CASE("migration 4: each maildrop entry moves into its recipient row, uids unchanged") {
  scratch_directory scratch("schema4-test");
  auto path = scratch.database();
  version_3_with_mail(path);
  prepare_database(path);
  db::connection db(path.string());
  db.exec("PRAGMA foreign_keys = ON");
  CHECK(count(db, "PRAGMA user_version") ==
        static_cast<std::int64_t>(schema::server_migrations.back().version));
  CHECK(count(db, "SELECT count(*) FROM recipient WHERE mailbox_user_id IS NOT NULL") == 3);
  CHECK(count(db, "SELECT count(*) FROM recipient WHERE id = 12 AND mailbox_user_id = 3") == 1);
  CHECK(count(db, "SELECT count(*) FROM recipient WHERE id = 11 AND mailbox_user_id IS NULL") == 1);
  // Each maildrop lists what it did, in order, under the same unique-ids.
  auto& drop = db.prepare("SELECT uid FROM mailbox_entry WHERE user_id = ?1 ORDER BY id");
  std::vector<std::string> uids;
  drop.bind(1, std::int64_t{4});
  while (drop.step()) uids.push_back(drop.column_text(0));
  drop.reset();
  CHECK(uids == std::vector<std::string>{"Q1.13", "Q2.14"});
  CHECK(count(db, "SELECT count(*) FROM mailbox_entry WHERE user_id = 3 AND message_id = 7 "
                  "AND uid = 'Q1.12' AND delivered_at = 100") == 1);
  CHECK(count(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                  "name = 'mailbox_entry'") == 0);
  // The maildrop is read through the partial index, in order, without sorting.
  auto& plan = db.prepare("EXPLAIN QUERY PLAN SELECT id FROM mailbox_entry WHERE user_id = 4 "
                          "ORDER BY id");
  std::string steps;
  while (plan.step()) steps += plan.column_text(3) + "\n";
  plan.reset();
  CHECK(steps.find("recipient_mailbox") != std::string::npos);
  CHECK(steps.find("TEMP B-TREE") == std::string::npos);
  // Deleting a user empties that maildrop only.
  db.exec("DELETE FROM user WHERE id = 4");
  CHECK(count(db, "SELECT count(*) FROM mailbox_entry") == 1);
  CHECK(count(db, "SELECT count(*) FROM recipient") == 4);
}

TEST_CASE("migration 4: an entry that names no recipient stops it, and nothing is lost") {
  scratch_directory scratch("schema4-odd-test");
  auto path = scratch.database();
  version_3_with_mail(path, "not-a-recipient");
  CHECK_THROWS(prepare_database(path));
  db::connection db(path.string());
  CHECK(count(db, "PRAGMA user_version") == 3);
  CHECK(count(db, "SELECT count(*) FROM mailbox_entry") == 3);
  CHECK(count(db, "SELECT count(*) FROM mailbox_entry WHERE uid = 'not-a-recipient'") == 1);
}

TEST_CASE("migration 5: the health probe's row is written and rewritten") {
  scratch_directory scratch("schema5-test");
  auto path = scratch.database();
  prepare_database(path);
  db::connection db(path.string());
  write_health_probe(db, 100);
  write_health_probe(db, 200);
  CHECK(count(db, "SELECT count(*) FROM health_probe") == 1);
  CHECK(count(db, "SELECT probed_at FROM health_probe WHERE id = 1") == 200);
}
