// Unit tests for the storage layer: the SQLite wrapper, migrations, and the group-commit
// worker (a failed job rolls back alone; results reach the awaiting coroutine, failures as
// store errors).
#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <filesystem>
#include <future>
#include <unistd.h>

#include "db.hpp"
#include "migration.hpp"
#include "sqlite_worker.hpp"
#include "store_error.hpp"

using namespace missive;

namespace {

// A database file in a fresh temporary directory, removed afterwards.
struct temp_database {
  std::filesystem::path dir;
  std::filesystem::path path;
  temp_database() {
    static int counter = 0;
    dir = std::filesystem::temp_directory_path() /
          ("missive-storage-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir);
    path = dir / "test.db";
    db::connection db(path.string());
    db.exec("PRAGMA journal_mode = WAL; CREATE TABLE item(name TEXT NOT NULL UNIQUE)");
  }
  ~temp_database() { std::filesystem::remove_all(dir); }

  std::vector<std::string> names() const {
    db::connection db(path.string());
    auto& query = db.prepare("SELECT name FROM item ORDER BY name");
    std::vector<std::string> out;
    while (query.step()) out.push_back(query.column_text(0));
    return out;
  }
};

void insert(db::connection& db, std::string_view name) {
  db.prepare("INSERT INTO item(name) VALUES (?1)").bind(1, name).run();
}

}  // namespace

TEST_CASE("statements bind, step and read back text, blobs and integers") {
  db::connection db(":memory:");
  db.exec("CREATE TABLE t(a INTEGER, b TEXT, c BLOB)");
  std::string blob("a\0b\r\n\xff", 6);
  db.prepare("INSERT INTO t VALUES (?1, ?2, ?3)").bind(1, std::int64_t{42}).bind(2, "x'; DROP TABLE t; --").bind_blob(3, blob).run();
  auto& query = db.prepare("SELECT a, b, c FROM t");
  REQUIRE(query.step());
  CHECK(query.column_int(0) == 42);
  CHECK(query.column_text(1) == "x'; DROP TABLE t; --");
  CHECK(query.column_view(2) == blob);
  CHECK_FALSE(query.step());
}

TEST_CASE("a transaction rolls back unless committed") {
  db::connection db(":memory:");
  db.exec("CREATE TABLE t(a INTEGER)");
  {
    db::transaction tx(db);
    db.exec("INSERT INTO t VALUES (1)");
  }
  {
    db::transaction tx(db);
    db.exec("INSERT INTO t VALUES (2)");
    tx.commit();
  }
  auto& query = db.prepare("SELECT group_concat(a) FROM t");
  REQUIRE(query.step());
  CHECK(query.column_text(0) == "2");
}

TEST_CASE("migrations apply in order and a newer database is refused") {
  db::connection db(":memory:");
  std::vector<db::migration> steps = {
      {1, "001_a.sql", "CREATE TABLE a(x);"},
      {2, "002_b.sql", "CREATE TABLE b(y);"},
  };
  db::migrate(db, steps, "test");
  auto& version = db.prepare("PRAGMA user_version");
  REQUIRE(version.step());
  CHECK(version.column_int(0) == 2);
  version.reset();
  db::migrate(db, steps, "test");  // already current: nothing to do, no error

  db.exec("PRAGMA user_version = 7");
  try {
    db::migrate(db, steps, "test");
    FAIL("a newer database was not refused");
  } catch (const std::runtime_error& e) {
    std::string message = e.what();
    CHECK(message.find("schema version 7") != std::string::npos);
    CHECK(message.find("newer than the 2") != std::string::npos);
  }
}

TEST_CASE("group commit: a failed job rolls back alone, the rest of its batch commits") {
  temp_database database;
  sqlite_worker writer(database.path, sqlite_worker::mode::group_commit, 1);

  // Hold the writer in a first job so the next three queue up and form one batch.
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> first_done;
  writer.submit([released](db::connection&) { released.wait(); },
                [&first_done](std::exception_ptr) { first_done.set_value(); });

  std::promise<std::exception_ptr> a, b, c;
  writer.submit([](db::connection& db) { insert(db, "a"); },
                [&a](std::exception_ptr e) { a.set_value(e); });
  writer.submit(
      [](db::connection& db) {
        insert(db, "b");
        throw std::runtime_error("job b fails after writing");
      },
      [&b](std::exception_ptr e) { b.set_value(e); });
  writer.submit([](db::connection& db) { insert(db, "c"); },
                [&c](std::exception_ptr e) { c.set_value(e); });
  auto batches_before = writer.batches();
  release.set_value();

  first_done.get_future().get();
  CHECK(a.get_future().get() == nullptr);
  CHECK(b.get_future().get() != nullptr);
  CHECK(c.get_future().get() == nullptr);
  CHECK(writer.batches() == batches_before + 1);  // a, b and c shared one transaction
  CHECK(database.names() == std::vector<std::string>{"a", "c"});
}

TEST_CASE("group commit: a batch of one failing job commits nothing, and the next batch works") {
  temp_database database;
  sqlite_worker writer(database.path, sqlite_worker::mode::group_commit, 1);
  std::promise<std::exception_ptr> failed, fine;
  writer.submit(
      [](db::connection& db) {
        insert(db, "x");
        insert(db, "x");  // UNIQUE: the job fails after its first write
      },
      [&failed](std::exception_ptr e) { failed.set_value(e); });
  CHECK(failed.get_future().get() != nullptr);
  writer.submit([](db::connection& db) { insert(db, "y"); },
                [&fine](std::exception_ptr e) { fine.set_value(e); });
  CHECK(fine.get_future().get() == nullptr);
  CHECK(database.names() == std::vector<std::string>{"y"});
}

TEST_CASE("group commit: the writer copies its log into the database between batches") {
  temp_database database;
  {
    sqlite_worker writer(database.path, sqlite_worker::mode::group_commit, 1);
    // ~1,600 pages of log: past the checkpoint threshold (1,000) more than once.
    std::vector<std::promise<std::exception_ptr>> done(400);
    for (std::size_t i = 0; i < done.size(); ++i) {
      writer.submit(
          [i](db::connection& db) { insert(db, std::to_string(i) + std::string(16000, 'x')); },
          [&done, i](std::exception_ptr e) { done[i].set_value(e); });
    }
    for (auto& d : done) CHECK(d.get_future().get() == nullptr);
    // The checkpoint follows the batch's completions; a later job runs after it.
    std::promise<std::exception_ptr> later;
    writer.submit([](db::connection& db) { insert(db, "later"); },
                  [&later](std::exception_ptr e) { later.set_value(e); });
    CHECK(later.get_future().get() == nullptr);
    // The database file itself holds the rows (not only the log), while the writer runs.
    CHECK(std::filesystem::file_size(database.path) > 2'000'000);
  }
  CHECK(database.names().size() == 401);
}

TEST_CASE("run() resumes the coroutine with the job's result or its exception") {
  temp_database database;
  sqlite_worker writer(database.path, sqlite_worker::mode::group_commit, 1);
  asio::io_context io;
  std::int64_t count = -1;
  std::string failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await writer.run([](db::connection& db) { insert(db, "x"); });
        count = co_await writer.run([](db::connection& db) {
          auto& query = db.prepare("SELECT count(*) FROM item");
          query.step();
          return query.column_int(0);
        });
        try {
          // A duplicate violates UNIQUE: the error comes back as an exception.
          co_await writer.run([](db::connection& db) { insert(db, "x"); });
        } catch (const store_error& e) {
          CHECK(e.why() == store_error::kind::permanent);
          failure = e.what();
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  CHECK(count == 1);
  CHECK(failure.find("UNIQUE") != std::string::npos);
  CHECK(database.names() == std::vector<std::string>{"x"});
}
