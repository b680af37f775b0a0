// Unit tests of the delivery scheduler with a fake courier and a fake clock, over a real store
// in a temporary directory: no sockets, no sleeping.
#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <filesystem>
#include <functional>
#include <utility>
#include <map>
#include <stdexcept>
#include <unistd.h>

#include "clock.hpp"
#include "courier.hpp"
#include "db.hpp"
#include "delivery_scheduler.hpp"
#include "dns_resolver.hpp"
#include "log.hpp"
#include "sqlite_store.hpp"
#include "queue_store.hpp"
#include "server_config.hpp"

using namespace missive;

namespace {

// A clock that reads what the test sets (here: the real time when the queue was filled,
// so what is due now is due to the scheduler).
class fake_clock : public clock {
 public:
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
  std::chrono::system_clock::time_point now() const override { return time; }
};

// A courier that answers as told, yields to the event loop between messages (so deliveries
// overlap as real ones do), and counts what it was given.
class fake_courier : public courier {
 public:
  attempt_fate fate = attempt_fate::delivered;
  int throw_first = 0;  // this many jobs throw before reporting anything
  // When set, the first job waits for it to be cancelled (opened) before it reports.
  asio::steady_timer* gate = nullptr;
  int jobs = 0;
  int active = 0, most_active = 0;
  std::map<std::string, int> active_to, most_active_to;  // by destination
  int reported = 0;
  // Called once `reported` reaches `enough`, or `jobs` reaches `enough_jobs`.
  int enough = 0, enough_jobs = 0;
  std::function<void()> when_enough;
  // Called as each job starts, before anything else.
  std::function<void(const delivery_job&)> on_start;

  void check_enough() {
    if (when_enough && (reported >= enough || (enough_jobs > 0 && jobs >= enough_jobs))) {
      std::exchange(when_enough, nullptr)();
    }
  }

  asio::awaitable<void> deliver(const delivery_job& job, const attempt_report& report) override {
    if (on_start) on_start(job);
    ++jobs;
    check_enough();
    most_active = std::max(most_active, ++active);
    auto& to = active_to[job.destination];
    most_active_to[job.destination] = std::max(most_active_to[job.destination], ++to);
    struct leave {
      fake_courier& c;
      int& to;
      ~leave() { --c.active, --to; }
    } leaving{*this, to};
    for (int i = 0; i < 3; ++i) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    if (gate != nullptr && jobs == 1) {
      std::error_code ec;
      co_await gate->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (throw_first > 0) {
      --throw_first;
      throw std::runtime_error("the courier fell over");
    }
    for (const auto& r : job.recipients) {
      std::vector<attempt_result> results{{r, fate, fate == attempt_fate::delivered
                                                        ? "250 2.0.0 Ok" : "451 4.3.0 later",
                                           "fake[127.0.0.1]:25"}};
      co_await report(results);
      ++reported;
      check_enough();
    }
  }
};

// A relay's store in a temporary directory with `messages` queued, each for one recipient
// at the domains given in turn; each domain routed (no DNS) to a host nobody connects to.
struct scheduler_fixture {
  std::filesystem::path dir;
  server_config config;
  fake_clock time;
  fake_courier carrier;

  scheduler_fixture(const std::vector<std::string>& domains, int messages) {
    static int counter = 0;
    dir = std::filesystem::temp_directory_path() /
          ("missive-scheduler-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    prepare_database(dir / "missive.db");
    log::set_level(log::level::warning);  // the delivery lines of a hundred attempts
    config.hostname = "mx.a.test";
    config.domains = {"a.test"};
    config.queue.retry_initial = std::chrono::seconds(600);
    // One next hop per domain: a destination each.
    std::uint16_t port = 9;
    for (const auto& d : domains) {
    route r;
    r.domain = d;
    r.host = {"127.0.0.1", port++};
    config.routes.push_back(r);
  }
    db::connection db((dir / "missive.db").string());
    db.exec("PRAGMA foreign_keys = ON");
    for (int i = 0; i < messages; ++i) {
      incoming_message m;
      m.queue_id = "Q" + std::to_string(i);
      m.sender = "alice@a.test";
      m.client = "test [127.0.0.1]";
      m.body = "Subject: test\r\n\r\nbody\r\n";
      m.recipients.push_back({"r" + std::to_string(i) + "@" + domains[i % domains.size()], false});
      insert_message(db, m);
    }
    time.time = std::chrono::system_clock::now();
  }
  ~scheduler_fixture() { std::filesystem::remove_all(dir); }

  // Runs the scheduler until the courier has reported `count` recipients (or has been given
  // `max_jobs` jobs), then stops it; returns the counts of recipient states. A watchdog
  // stops it after 30 s, should that never happen.
  std::map<std::string, std::int64_t> run_until_reported(int count, int max_jobs = 0) {
    asio::io_context io;
    sqlite_store store(dir / "missive.db", queue_policy{config.hostname, config.domains,
                                                      {config.queue.retry_initial,
                                                       config.queue.retry_max,
                                                       config.queue.max_lifetime}});
    dns_resolver dns(io.get_executor(), config.dns);
    delivery_scheduler scheduler(io.get_executor(), store, config, time, dns, carrier);
    asio::co_spawn(io, scheduler.run(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    carrier.reported = 0;
    carrier.enough = count;
    carrier.enough_jobs = max_jobs > 0 ? carrier.jobs + max_jobs : 0;
    asio::steady_timer watchdog(io, std::chrono::seconds(30));
    carrier.when_enough = [&] {
      watchdog.cancel();
      scheduler.stop();
    };
    watchdog.async_wait([&](std::error_code ec) {
      if (ec) return;
      FAIL_CHECK("the scheduler did not finish within 30 s");
      carrier.when_enough = nullptr;
      scheduler.stop();
    });
    io.run();
    CHECK(scheduler.idle());
    db::connection db((dir / "missive.db").string());
    std::map<std::string, std::int64_t> states;
    auto& query = db.prepare("SELECT state, count(*) FROM recipient GROUP BY state");
    while (query.step()) states[query.column_text(0)] = query.column_int(1);
    query.reset();
    return states;
  }
};

// Waits (bounded, a millisecond at a time) until `condition` holds; false if it never did.
asio::awaitable<bool> eventually(std::function<bool()> condition) {
  asio::steady_timer step(co_await asio::this_coro::executor);
  for (int i = 0; i < 10000; ++i) {
    if (condition()) co_return true;
    step.expires_after(std::chrono::milliseconds(1));
    std::error_code ec;
    co_await step.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return condition();
}

// A message for one remote recipient, as an SMTP session would hand it over.
incoming_message message_to(const std::string& queue_id, const std::string& address) {
  incoming_message m;
  m.queue_id = queue_id;
  m.sender = "alice@a.test";
  m.client = "test [127.0.0.1]";
  m.body = "Subject: test\r\n\r\nbody\r\n";
  m.recipients.push_back({address, false});
  return m;
}

// Runs the scheduler of `f` beside `script`, which gets the store and the scheduler and
// must stop the scheduler when it is done.
void drive(scheduler_fixture& f,
           const std::function<asio::awaitable<void>(mail_store&, delivery_scheduler&)>& script) {
  asio::io_context io;
  sqlite_store store(f.dir / "missive.db",
                     queue_policy{f.config.hostname, f.config.domains,
                                  {f.config.queue.retry_initial, f.config.queue.retry_max,
                                   f.config.queue.max_lifetime}});
  dns_resolver dns(io.get_executor(), f.config.dns);
  delivery_scheduler scheduler(io.get_executor(), store, f.config, f.time, dns, f.carrier);
  auto rethrow = [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  };
  asio::co_spawn(io, scheduler.run(), rethrow);
  asio::co_spawn(io, script(store, scheduler), rethrow);
  io.run();
  CHECK(scheduler.idle());
}

}  // namespace

TEST_CASE("scheduler: the cap on outbound connections in total holds, and everything goes") {
  scheduler_fixture f({"b.test", "c.test", "d.test", "e.test", "f.test"}, 10);
  f.config.queue.max_connections = 2;
  auto states = f.run_until_reported(10);
  CHECK(states["delivered"] == 10);
  CHECK(f.carrier.jobs == 5);
  CHECK(f.carrier.most_active == 2);
  for (const auto& [destination, most] : f.carrier.most_active_to) CHECK(most == 1);
}

TEST_CASE("scheduler: a job's slot is free only once all its results are recorded") {
  // The courier reports without waiting for the recording; with one slot, the next job
  // starts only after the store holds every result of the one before.
  scheduler_fixture f({"b.test", "c.test"}, 40);
  f.config.queue.max_connections = 1;
  std::vector<std::int64_t> delivered_at_start;
  f.carrier.on_start = [&](const delivery_job&) {
    db::connection db((f.dir / "missive.db").string());
    delivered_at_start.push_back(
        db.prepare("SELECT count(*) FROM recipient WHERE state = 'delivered'").single_int().value_or(-1));
    CHECK(delivered_at_start.back() == f.carrier.reported);
  };
  auto states = f.run_until_reported(40);
  CHECK(states["delivered"] == 40);
  REQUIRE(delivered_at_start.size() == 2);
  CHECK(delivered_at_start[1] == 20);
}

TEST_CASE("scheduler: a courier that throws frees its slot and loses nothing") {
  scheduler_fixture f({"b.test"}, 3);
  f.config.queue.max_connections = 1;
  f.carrier.throw_first = 1;
  // The thrown job's recipients are deferred (600 s away): nothing more is due, so the
  // courier sees that one job only.
  auto states = f.run_until_reported(3, 1);
  CHECK(f.carrier.jobs == 1);
  CHECK(states["deferred"] == 3);
  db::connection db((f.dir / "missive.db").string());
  CHECK(db.prepare("SELECT count(*) FROM recipient WHERE in_flight = 0 AND attempts = 1 AND "
                   "last_reply = 'delivery failed: the courier fell over'")
            .single_int() == std::int64_t{3});
  // the slot is free again: once the clock passes the retry (600 s + 20% jitter), they go out
  f.time.time += std::chrono::seconds(722);
  auto after = f.run_until_reported(3);
  CHECK(after["delivered"] == 3);
}

TEST_CASE("scheduler: the cap per destination holds across rounds of claims") {
  // One job to b.test is held; a second message for b.test becomes due meanwhile. With a cap
  // of 1 it waits for the slot; with a cap of 2 it goes out beside the first.
  for (std::size_t cap : {1u, 2u}) {
    CAPTURE(cap);
    scheduler_fixture f({"b.test"}, 1);
    f.config.queue.max_connections_per_destination = cap;
    bool second_waited_or_ran = false;
    drive(f, [&](mail_store& store, delivery_scheduler& scheduler) -> asio::awaitable<void> {
      asio::steady_timer gate(co_await asio::this_coro::executor,
                              asio::steady_timer::time_point::max());
      f.carrier.gate = &gate;
      CHECK(co_await eventually([&] { return f.carrier.jobs == 1; }));
      auto second = message_to("Q-second", "later@b.test");
      co_await store.store_message(std::move(second));
      f.time.time = std::chrono::system_clock::now();  // the store dated it by the wall clock
      scheduler.notify();
      second_waited_or_ran = co_await eventually([&] {
        return scheduler.jobs_waiting_for_a_slot() > 0 || f.carrier.jobs == 2;
      });
      gate.cancel();  // the first job may finish now
      CHECK(co_await eventually([&] { return f.carrier.reported == 2; }));
      scheduler.stop();
    });
    CHECK(second_waited_or_ran);
    CHECK(f.carrier.jobs == 2);
    CHECK(f.carrier.most_active_to["127.0.0.1:9"] == static_cast<int>(cap));
  }
}

TEST_CASE("scheduler: a flush makes everything due now") {
  scheduler_fixture f({"b.test", "c.test"}, 4);
  {
    db::connection db((f.dir / "missive.db").string());
    db.exec("UPDATE recipient SET state = 'deferred', attempts = 1, "
            "next_attempt_at = strftime('%s', 'now') + 3600");
  }
  std::optional<std::size_t> made_due;
  int jobs_before = -1;
  drive(f, [&](mail_store& store, delivery_scheduler& scheduler) -> asio::awaitable<void> {
    jobs_before = f.carrier.jobs;  // nothing is due for an hour
    made_due = co_await store.make_due(std::nullopt);
    f.time.time = std::chrono::system_clock::now();  // make_due dates by the wall clock
    scheduler.notify();
    CHECK(co_await eventually([&] { return f.carrier.reported == 4; }));
    scheduler.stop();
  });
  CHECK(jobs_before == 0);
  CHECK(made_due == std::size_t{4});
  db::connection db((f.dir / "missive.db").string());
  CHECK(db.prepare("SELECT count(*) FROM recipient WHERE state = 'delivered' AND attempts = 2")
            .single_int() == std::int64_t{4});
}

TEST_CASE("scheduler: a deferred recipient is due when the clock reaches its retry, not before") {
  scheduler_fixture f({"b.test"}, 3);
  f.carrier.fate = attempt_fate::retry;
  auto states = f.run_until_reported(3);
  CHECK(states["deferred"] == 3);
  const auto deferred_at = f.time.time;
  // retry_initial is 600 s with a jitter of +-20%, counted from the next whole second.
  std::size_t before = 99, after = 0;
  f.carrier.fate = attempt_fate::delivered;
  drive(f, [&](mail_store& store, delivery_scheduler& scheduler) -> asio::awaitable<void> {
    before = (co_await store.claim_remote(10, deferred_at + std::chrono::seconds(479))).size();
    auto claimed = co_await store.claim_remote(10, deferred_at + std::chrono::seconds(722));
    after = claimed.size();
    std::vector<std::int64_t> ids;
    for (const auto& r : claimed) ids.push_back(r.id);
    co_await store.release(ids);
    f.time.time = deferred_at + std::chrono::seconds(722);
    f.carrier.reported = 0;
    scheduler.notify();
    CHECK(co_await eventually([&] { return f.carrier.reported == 3; }));
    scheduler.stop();
  });
  CHECK(before == 0);
  CHECK(after == 3);
  db::connection db((f.dir / "missive.db").string());
  CHECK(db.prepare("SELECT count(*) FROM recipient WHERE state = 'delivered' AND attempts = 2")
            .single_int() == std::int64_t{3});
}
