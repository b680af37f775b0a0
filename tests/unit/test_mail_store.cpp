// Unit tests for the relay's store as sessions use it: coroutines on the writer and readers.
#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <filesystem>
#include <unistd.h>

#include "db.hpp"
#include "sqlite_store.hpp"
#include "queue_store.hpp"
#include "user_store.hpp"

using namespace missive;

namespace {

// Runs a coroutine to its end on a fresh event loop, rethrowing what escaped it.
template <typename Coroutine>
void run_to_end(Coroutine coroutine) {
  asio::io_context io;
  asio::co_spawn(io, std::move(coroutine), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
}

}  // namespace

TEST_CASE("a QUIT that expunges thousands of messages commits them a few hundred at a time") {
  static int counter = 0;
  auto dir = std::filesystem::temp_directory_path() /
             ("missive-mail-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  auto database = dir / "missive.db";
  prepare_database(database);
  constexpr int messages = 1000;
  std::int64_t user = 0;
  {
    // Filled directly, in one transaction: a maildrop of a thousand messages.
    db::connection db(database.string());
    db.exec("PRAGMA foreign_keys = ON");
    REQUIRE(add_user(db, "alice@a.test", "$scrypt$unused"));
    user = *find_user_id(db, "alice@a.test");
    db::transaction tx(db);
    for (int i = 0; i < messages; ++i) {
      incoming_message m;
      m.queue_id = "Q" + std::to_string(i);
      m.sender = "bob@b.test";
      m.client = "test [127.0.0.1]";
      m.body = "Subject: test\r\n\r\nbody\r\n";
      m.recipients.push_back({"alice@a.test", true});
      REQUIRE(insert_message(db, m).size() == 1);
    }
    tx.commit();
  }
  {
    sqlite_store store(database, queue_policy{"mx.a.test", {"a.test"}, {}});
    std::vector<maildrop_entry> before, after;
    std::uint64_t batches_before = 0, batches_after = 0;
    run_to_end([&]() -> asio::awaitable<void> {
      before = co_await store.maildrop(user);
      std::vector<std::int64_t> ids;
      for (const auto& e : before) ids.push_back(e.id);
      batches_before = store.write_batches();
      co_await store.remove_entries(std::move(ids));
      batches_after = store.write_batches();
      after = co_await store.maildrop(user);
    });
    CHECK(before.size() == messages);
    CHECK(after.empty());
    // 1000 entries, 256 a transaction: four jobs, with other sessions' work between them
    CHECK(batches_after - batches_before >= 4);
  }
  {
    db::connection db(database.string());
    CHECK(db.prepare("SELECT count(*) FROM message").single_int() == std::int64_t{0});
  }
  std::filesystem::remove_all(dir);
}
