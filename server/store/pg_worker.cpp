// PostgreSQL worker threads and group commit: see pg_worker.hpp.
#include "pg_worker.hpp"

#include <algorithm>

#include "group_commit.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "pg_connection.hpp"
#include "store_error.hpp"

namespace missive {

namespace {

// Jobs beyond this wait for the next batch, so one commit never grows without bound.
constexpr std::size_t max_batch = 512;

// A reconnection is tried at most this often, so a PostgreSQL that is away is not hammered
// by every job (they fail at once meanwhile, as temporary).
constexpr auto reconnect_pause = std::chrono::milliseconds(500);

}  // namespace

std::exception_ptr as_store_error_pg(std::exception_ptr failure) {
  if (!failure) return failure;
  try {
    std::rethrow_exception(failure);
  } catch (const pg::error& e) {
    using kind = store_error::kind;
    const std::string& state = e.sqlstate();
    // SQLSTATE classes (PostgreSQL appendix A): 08 connection, 57P admin shutdown and
    // cannot-connect-now, 53 insufficient resources (53100: disk full), 40 rollbacks
    // (serialization, deadlock), 55P03 lock not available.
    kind why = state == "53100"                                      ? kind::full
               : e.connection_lost() || state.starts_with("08") || state.starts_with("57P") ||
                       state.starts_with("53") || state.starts_with("40") || state == "55P03"
                   ? kind::temporary
                   : kind::permanent;
    return std::make_exception_ptr(store_error(why, e.what()));
  } catch (...) {
    return failure;
  }
}

pg_worker::pg_worker(std::string conninfo, std::string name, mode how, int threads,
                     on_connect setup)
    : conninfo_(std::move(conninfo)), name_(std::move(name)), mode_(how), setup_(std::move(setup)) {
  if (mode_ == mode::group_commit) threads = 1;
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { thread_main(); });
}

pg_worker::~pg_worker() {
  queue_.stop();
  for (auto& thread : threads_) thread.join();
}

void pg_worker::submit(job work, completion done) {
  queue_.push({std::move(work), std::move(done), {}, {}});
}

void pg_worker::submit_in_two_parts(job send, job receive, completion done) {
  job both = [send, receive](pg::connection& db) {
    send(db);
    receive(db);
  };
  queue_.push({std::move(both), std::move(done), std::move(send), std::move(receive)});
}

std::uint64_t pg_worker::batches() const { return queue_.batches(); }

pg::connection& pg_worker::connected(std::unique_ptr<pg::connection>& db) {
  if (db && db->ok()) return *db;
  thread_local std::chrono::steady_clock::time_point last_try{};
  auto now = std::chrono::steady_clock::now();
  if (db || last_try != std::chrono::steady_clock::time_point{}) {
    if (now - last_try < reconnect_pause) {
      throw pg::error("PostgreSQL is not reachable (reconnecting)", "08006", true);
    }
  }
  bool was_connected = db != nullptr;
  db.reset();
  last_try = now;
  db = std::make_unique<pg::connection>(conninfo_, name_);
  if (setup_) setup_(*db);
  if (was_connected) log::info("storage", "event=reconnected");
  return *db;
}

void pg_worker::thread_main() {
  std::unique_ptr<pg::connection> db;
  bool reported_away = false;
  std::vector<queued_job> batch;
  for (;;) {
    // Once stopping, and every job is done, the thread ends.
    if (!queue_.take(mode_ == mode::group_commit ? max_batch : 1, batch)) return;
    try {
      run_batch(connected(db), batch);
      reported_away = false;
    } catch (...) {
      // No connection: every job of the batch fails, as temporary.
      auto failure = std::current_exception();
      if (mode_ == mode::group_commit) {
        metrics::relay().write_batch(batch.size(), false, std::chrono::steady_clock::duration{});
      }
      if (!reported_away) {
        try {
          throw;
        } catch (const std::exception& e) {
          log::error("storage", "event=database_unreachable reason=\"{}\"", e.what());
        }
        reported_away = true;
      }
      for (auto& queued : batch) queued.done(failure);
    }
    batch.clear();
  }
}

void pg_worker::run_batch(pg::connection& db, std::vector<queued_job>& batch) {
  std::vector<std::exception_ptr> failures(batch.size());
  if (mode_ == mode::independent) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      try {
        batch[i].work(db);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    }
  } else {
    auto started = std::chrono::steady_clock::now();
    bool in_two_parts = std::all_of(batch.begin(), batch.end(),
                                    [](const queued_job& q) { return static_cast<bool>(q.send); });
    bool committed = in_two_parts && commit_pipelined(db, batch);
    if (!committed) {
      // Not pipelined, or a job of the pipeline failed: again one by one, each under its own
      // savepoint.
      committed = commit_together<pg::transaction>(db, batch, failures, in_two_parts);
    }
    metrics::relay().write_batch(batch.size(), committed, std::chrono::steady_clock::now() - started);
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(failures[i]);
}

bool pg_worker::commit_pipelined(pg::connection& db, std::vector<queued_job>& batch) {
  pg::pipeline pipe(db);
  db.prepare("BEGIN").send();
  for (auto& queued : batch) queued.send(db);
  db.prepare("COMMIT").send();
  pipe.sync();
  try {
    db.prepare("BEGIN").receive();
    for (auto& queued : batch) queued.receive(db);
    db.prepare("COMMIT").receive();
    pipe.finish();
  } catch (...) {
    if (!db.ok()) throw;  // the connection broke: every job fails, as temporary
    return false;         // the pipeline's destructor reads the rest and rolls back
  }
  return true;
}

bool transaction_gone(const pg::connection& db) { return !db.ok(); }

}  // namespace missive
