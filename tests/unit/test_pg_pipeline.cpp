// Unit tests of libpq's pipeline mode as the PostgreSQL writer uses it (pg::pipeline,
// pg_worker's pipelined batches), against the tests' private cluster: ctest runs them as
// pg.unit (test suite "postgresql"), with MISSIVE_TEST_PG_URL_FILE naming its URL.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

#include "pg_connection.hpp"
#include "pg_worker.hpp"

using namespace missive;

namespace {

// A fresh database on the tests' cluster for one test case, dropped at the end.
struct scratch_database {
  std::string server_url, url, name;

  scratch_database() {
    const char* file = std::getenv("MISSIVE_TEST_PG_URL_FILE");
    REQUIRE_MESSAGE(file != nullptr, "MISSIVE_TEST_PG_URL_FILE is not set (run as ctest's pg.unit)");
    std::ifstream in(file);
    std::getline(in, server_url);
    REQUIRE_MESSAGE(!server_url.empty(), "no URL in " << file);
    static int counter = 0;
    name = "unit_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    pg::connection(server_url).exec("CREATE DATABASE " + name);
    url = server_url.substr(0, server_url.rfind('/') + 1) + name;
    pg::connection db(url);
    db.exec("CREATE TABLE item(id integer PRIMARY KEY, label text NOT NULL)");
  }
  ~scratch_database() {
    try {
      pg::connection(server_url).exec("DROP DATABASE " + name + " WITH (FORCE)");
    } catch (const std::exception&) {
      // Left for the cluster's removal at the end of the run.
    }
  }
};

std::int64_t count_items(pg::connection& db) {
  return db.prepare("SELECT count(*) FROM item").single_int().value_or(-1);
}

void send_insert(pg::connection& db, int id, const std::string& label) {
  db.prepare("INSERT INTO item(id, label) VALUES (?1, ?2)").bind(1, id).bind(2, label).send();
}

void receive_insert(pg::connection& db) {
  db.prepare("INSERT INTO item(id, label) VALUES (?1, ?2)").receive();
}

}  // namespace

TEST_SUITE("postgresql") {
TEST_CASE("pipeline: a batch commits in one round trip, answers in the order sent") {
  scratch_database scratch;
  pg::connection db(scratch.url);
  {
    pg::pipeline pipe(db);
    db.prepare("BEGIN").send();
    for (int i = 1; i <= 3; ++i) send_insert(db, i, "item " + std::to_string(i));
    db.prepare("SELECT label FROM item WHERE id = ?1").bind(1, 2).send();
    db.prepare("COMMIT").send();
    pipe.sync();
    db.prepare("BEGIN").receive();
    for (int i = 1; i <= 3; ++i) receive_insert(db);
    auto& select = db.prepare("SELECT label FROM item WHERE id = ?1");
    select.receive();
    REQUIRE(select.step());
    CHECK(select.column_text(0) == "item 2");
    CHECK_FALSE(select.step());
    select.reset();
    db.prepare("COMMIT").receive();
    pipe.finish();
  }
  CHECK_FALSE(db.in_transaction());
  CHECK(count_items(db) == 3);
}

TEST_CASE("pipeline: after a failed statement the rest is skipped, and the connection is whole") {
  scratch_database scratch;
  pg::connection db(scratch.url);
  {
    pg::pipeline pipe(db);
    db.prepare("BEGIN").send();
    send_insert(db, 1, "first");
    send_insert(db, 1, "the same key again");  // a unique violation
    db.prepare("SELECT ?1::integer + 1").bind(1, 41).send();  // first prepared here: skipped
    db.prepare("COMMIT").send();
    pipe.sync();
    db.prepare("BEGIN").receive();
    receive_insert(db);
    try {
      receive_insert(db);
      FAIL("the duplicate key was accepted");
    } catch (const pg::error& e) {
      CHECK(e.sqlstate() == "23505");
      CHECK_FALSE(e.connection_lost());
    }
    // The destructor reads the skipped answers, leaves the pipeline and rolls back.
  }
  CHECK(db.ok());
  CHECK_FALSE(db.in_transaction());
  CHECK(count_items(db) == 0);
  // The statement whose PREPARE the server skipped is prepared again when next used ...
  CHECK(db.prepare("SELECT ?1::integer + 1").bind(1, 41).single_int() == std::int64_t{42});
  // ... and so is one whose PREPARE the server ran before the failure (no "already exists").
  {
    pg::pipeline pipe(db);
    db.prepare("SELECT ?1::integer * 2").bind(1, 21).send();
    db.prepare("SELECT 1 / ?1::integer").bind(1, 0).send();  // division by zero
    pipe.sync();
    // Nothing received: the destructor accounts for every answer.
  }
  CHECK(db.prepare("SELECT ?1::integer * 2").bind(1, 21).single_int() == std::int64_t{42});
  CHECK(db.prepare("SELECT 1 / ?1::integer").bind(1, 1).single_int() == std::int64_t{1});
}

TEST_CASE("pg_worker: a pipelined batch with one failing job commits its neighbours") {
  scratch_database scratch;
  pg_worker writer(scratch.url, "missive unit test", pg_worker::mode::group_commit, 1);
  // The first job holds the writer until every other job is queued, so that they all make
  // up its next batch: one pipeline.
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> first_started, first_done;
  writer.submit(
      [released, &first_started](pg::connection&) {
        first_started.set_value();
        released.wait();
      },
      [&first_done](std::exception_ptr) { first_done.set_value(); });
  first_started.get_future().wait();
  constexpr int jobs = 20;
  std::mutex mutex;
  std::vector<std::exception_ptr> failures(jobs);
  std::vector<std::promise<void>> finished(jobs);
  for (int i = 0; i < jobs; ++i) {
    int id = i == 7 ? 3 : i;  // job 7 repeats job 3's key
    writer.submit_in_two_parts(
        [id](pg::connection& db) { send_insert(db, id, "job"); },
        [](pg::connection& db) { receive_insert(db); },
        [&, i](std::exception_ptr failure) {
          std::lock_guard lock(mutex);
          failures[i] = failure;
          finished[i].set_value();
        });
  }
  auto batches_before = writer.batches();
  release.set_value();
  first_done.get_future().wait();
  for (auto& f : finished) {
    REQUIRE(f.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  }
  CHECK(writer.batches() == batches_before + 1);
  for (int i = 0; i < jobs; ++i) {
    CAPTURE(i);
    CHECK(static_cast<bool>(failures[i]) == (i == 7));
  }
  pg::connection db(scratch.url);
  CHECK(count_items(db) == jobs - 1);
}
}
