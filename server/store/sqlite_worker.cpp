// SQLite worker threads and group commit: see sqlite_worker.hpp.
#include "sqlite_worker.hpp"

#include <sqlite3.h>

#include "db.hpp"
#include "group_commit.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "store_error.hpp"

namespace missive {

namespace {

// Jobs beyond this wait for the next batch, so one commit never grows without bound.
constexpr std::size_t max_batch = 512;

// How long a write may wait for another process's lock before it fails (and the SMTP
// client gets 451): the database's default busy timeout.
constexpr std::chrono::milliseconds busy_timeout{db::open_options{}.busy_timeout_ms};

// The write-ahead log's size, in pages, at which the writer copies it into the database
// (SQLite's own automatic checkpoint threshold).
constexpr int checkpoint_pages = 1000;

// Called by SQLite after each commit with the log's size: kept for the writer's loop.
int remember_wal_size(void* wal_pages, sqlite3*, const char*, int pages) {
  *static_cast<int*>(wal_pages) = pages;
  return SQLITE_OK;
}

std::unique_ptr<db::connection> open_connection(const std::filesystem::path& path) {
  auto db = std::make_unique<db::connection>(path.string());
  db->exec("PRAGMA foreign_keys = ON");
  // The durability rule (DESIGN.md): a commit is on disk before it is reported.
  db->exec("PRAGMA synchronous = FULL");
  return db;
}

}  // namespace

sqlite_worker::sqlite_worker(std::filesystem::path database, mode how, int threads)
    : database_(std::move(database)), mode_(how) {
  if (mode_ == mode::group_commit) threads = 1;
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { thread_main(); });
}

sqlite_worker::~sqlite_worker() {
  queue_.stop();
  for (auto& thread : threads_) thread.join();
}

void sqlite_worker::submit(job work, completion done) {
  queue_.push({std::move(work), std::move(done), std::chrono::steady_clock::now()});
}

std::exception_ptr as_store_error(std::exception_ptr failure) {
  if (!failure) return failure;
  try {
    std::rethrow_exception(failure);
  } catch (const db::error& e) {
    using kind = store_error::kind;
    int primary = e.code() & 0xff;  // extended result codes carry the primary in the low byte
    kind why = e.disk_full() ? kind::full
               : primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_IOERR ||
                       primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY
                   ? kind::temporary
                   : kind::permanent;
    return std::make_exception_ptr(store_error(why, e.what()));
  } catch (...) {
    return failure;
  }
}

std::uint64_t sqlite_worker::batches() const { return queue_.batches(); }

void sqlite_worker::thread_main() {
  int wal_pages = 0;  // before the connection, whose commits report into it
  std::unique_ptr<db::connection> db;
  std::exception_ptr open_failure;
  try {
    db = open_connection(database_);
  } catch (...) {
    open_failure = std::current_exception();
    log::error("storage", "event=open_failed database={}", database_.string());
  }
  // The group-commit writer checkpoints the log itself, between batches. SQLite's automatic
  // checkpoint would run inside the COMMIT that crosses the threshold: the sessions of that
  // batch would wait for a thousand pages to be copied and the database file fsynced
  // before hearing 250, though their mail was on disk already (a commit's p99 was 3.7 ms).
  if (db && mode_ == mode::group_commit) {
    db->exec("PRAGMA wal_autocheckpoint = 0");
    sqlite3_wal_hook(db->handle(), &remember_wal_size, &wal_pages);
  }
  std::vector<queued_job> batch;
  for (;;) {
    // Once stopping, and every job is done, the thread ends.
    if (!queue_.take(mode_ == mode::group_commit ? max_batch : 1, batch)) return;
    if (!db) {
      if (mode_ == mode::group_commit) {
        metrics::relay().write_batch(batch.size(), false, std::chrono::steady_clock::duration{});
      }
      for (auto& queued : batch) queued.done(open_failure);
    } else {
      run_batch(*db, batch);  // every job's completion has been called
    }
    batch.clear();
    if (wal_pages >= checkpoint_pages) {
      // PASSIVE, as SQLite's own: copies what no reader still needs, waits for no one.
      int rc = sqlite3_wal_checkpoint_v2(db->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                         nullptr, nullptr);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        log::warning("storage", "event=checkpoint_failed reason=\"{}\"", sqlite3_errstr(rc));
      }
      wal_pages = 0;
    }
  }
}

void sqlite_worker::run_batch(db::connection& db, std::vector<queued_job>& batch) {
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
    // Another process holding the write lock makes BEGIN wait, at most busy_timeout in all
    // for each job: a job that queued behind a batch that already waited for the lock
    // gets only what is left of its budget, so its 451 comes within the busy timeout.
    auto waited = std::chrono::steady_clock::now() - batch.front().submitted;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(busy_timeout - waited);
    db.set_busy_timeout(std::max(left, std::chrono::milliseconds(0)));
    auto started = std::chrono::steady_clock::now();
    bool committed = commit_together<db::transaction>(db, batch, failures);
    metrics::relay().write_batch(batch.size(), committed, std::chrono::steady_clock::now() - started);
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(failures[i]);
}

bool transaction_gone(const db::connection& db) { return !db.in_transaction(); }

}  // namespace missive
