// SQLite worker threads and group commit: see sqlite_worker.hpp.
#include "sqlite_worker.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "db.hpp"
#include "group_commit.hpp"
#include "log.hpp"
#include "log_flusher.hpp"
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

// Flushes of the log that may run at once. With one, a batch committed during a flush waits
// for it to end and then for its own; more than a few add nothing on a disk that serves
// flushes one by one, and each is a thread that mostly sleeps.
constexpr int flushes_at_once = 4;

// The path of the connection's write-ahead log.
std::string log_path_of(db::connection& db) {
  const char* path = sqlite3_filename_wal(sqlite3_db_filename(db.handle(), "main"));
  return path ? path : "";
}

// The writer's log_flusher: the write-ahead log opened once for each flusher thread, and the
// connection's commits no longer synced by SQLite itself (synchronous=NORMAL: the log is
// written at commit, and SQLite syncs it only before a checkpoint copies it into the
// database). Null, and SQLite syncing at every commit as before, when the log cannot be
// opened.
std::unique_ptr<log_flusher> flush_after_commit(db::connection& db) {
  // The log exists once a connection has read the database in WAL mode.
  db.exec("SELECT count(*) FROM sqlite_schema");
  std::string log_path = log_path_of(db);
  std::vector<log_flusher::flush_function> flushes;
  for (int i = 0; i < flushes_at_once; ++i) {
    int fd = log_path.empty() ? -1 : ::open(log_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      log::warning("storage", "event=log_flusher_unavailable reason=\"{}\" effect=\"every "
                   "commit is synced by SQLite\"", log_path.empty() ? "no log file" : std::strerror(errno));
      return nullptr;  // the descriptors opened so far close with `flushes`
    }
    // Closed with the flusher.
    auto log_file = std::shared_ptr<int>(new int(fd), [](int* file) {
      ::close(*file);
      delete file;
    });
    flushes.push_back([log_file] { return ::fdatasync(*log_file) == 0 ? 0 : errno; });
  }
  db.exec("PRAGMA synchronous = NORMAL");
  return std::make_unique<log_flusher>(std::move(flushes));
}

// After a failed flush (log_flusher::suspect): the whole log copied into the database file
// and synced, then emptied (a TRUNCATE checkpoint) and the emptying synced too (SQLite does
// not sync the truncation, and an old log with a hole, replayed over the newer database,
// would bring back old pages), so that no commit depends on a part of the log the disk may
// not have kept. Readers in the way make it fail; it is tried again after the next batch.
void rewrite_log(db::connection& db, log_flusher& flusher, std::uint64_t failures_seen) {
  db.set_busy_timeout(std::chrono::milliseconds(1000));
  int rc = sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                     nullptr);
  int error = rc == SQLITE_OK ? 0 : EIO;
  std::string reason = rc == SQLITE_OK ? "" : sqlite3_errstr(rc);
  if (error == 0) {
    int fd = ::open(log_path_of(db).c_str(), O_RDONLY | O_CLOEXEC);
    error = fd < 0 || ::fsync(fd) != 0 ? errno : 0;
    if (fd >= 0) ::close(fd);
    if (error != 0) reason = std::strerror(error);
  }
  if (error == 0) {
    log::info("storage", "event=log_rewritten");
  } else {
    log::error("storage", "event=log_rewrite_failed reason=\"{}\"", reason);
  }
  flusher.log_rewritten(error, failures_seen);
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

void sqlite_worker::submit(job work, completion done, job undo) {
  queue_.push({std::move(work), std::move(done), std::chrono::steady_clock::now(),
               std::move(undo)});
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
  // It also flushes the log after its commits rather than inside them (log_flusher.hpp).
  std::unique_ptr<log_flusher> flusher;
  if (db && mode_ == mode::group_commit) {
    db->exec("PRAGMA wal_autocheckpoint = 0");
    sqlite3_wal_hook(db->handle(), &remember_wal_size, &wal_pages);
    flusher = flush_after_commit(*db);
  }
  std::vector<queued_job> batch;
  std::uint64_t failures_seen = 0;  // failed flushes the writer has answered
  // A flush failed: what committed after it may have read what is now being withdrawn (a
  // claim of a message whose acceptance failed), so it fails too, and the undos of all of
  // it run first. Answered before the writer waits for work, so that nothing waits for it.
  auto answer_failed_flushes = [&] {
    if (!flusher || flusher->failures() == failures_seen) return;
    failures_seen = flusher->failures();
    flusher->fail_waiting(EIO);
  };
  for (;;) {
    answer_failed_flushes();
    // Once stopping, and every job is done, the thread ends.
    if (!queue_.take(mode_ == mode::group_commit ? max_batch : 1, batch)) {
      if (!flusher) return;
      // The last batches' confirmations may still queue undo jobs (a flush failed): those
      // run after the flusher is gone, each synced at its commit by SQLite.
      flusher.reset();
      try {
        db->exec("PRAGMA synchronous = FULL");
      } catch (const db::error& e) {
        log::warning("storage", "event=synchronous_full_failed reason=\"{}\"", e.what());
      }
      continue;
    }
    if (flusher && flusher->failures() != failures_seen) {
      // A flush failed while the writer waited: the undos go before the batch it was given.
      for (auto queued = batch.rbegin(); queued != batch.rend(); ++queued) {
        queue_.push_first(std::move(*queued));
      }
      batch.clear();
      continue;
    }
    if (!db) {
      if (mode_ == mode::group_commit) {
        metrics::relay().write_batch(batch.size(), false, std::chrono::steady_clock::duration{});
      }
      for (auto& queued : batch) queued.done(open_failure);
    } else {
      run_batch(*db, batch, flusher.get());  // every job's completion is called or pending
      if (flusher && flusher->suspect() && flusher->failures() == failures_seen) {
        rewrite_log(*db, *flusher, failures_seen);
        wal_pages = 0;
      }
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

void sqlite_worker::run_batch(db::connection& db, std::vector<queued_job>& batch,
                              log_flusher* flusher) {
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
    if (committed && flusher) {
      confirm_later(*flusher, batch, failures, started);
      return;
    }
    metrics::relay().write_batch(batch.size(), committed, std::chrono::steady_clock::now() - started);
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(failures[i]);
}

void sqlite_worker::confirm_later(log_flusher& flusher, std::vector<queued_job>& batch,
                                  std::vector<std::exception_ptr>& failures,
                                  std::chrono::steady_clock::time_point started) {
  struct committed_job {
    completion done;
    std::exception_ptr failure;  // the job's own, under its savepoint: nothing of it committed
    job undo;
  };
  auto jobs = std::make_shared<std::vector<committed_job>>();
  jobs->reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    jobs->push_back({std::move(batch[i].done), failures[i], std::move(batch[i].undo)});
  }
  flusher.committed([this, jobs, started](int error) {
    // The batch's time is to stable storage, as when SQLite synced inside COMMIT.
    metrics::relay().write_batch(jobs->size(), error == 0,
                                 std::chrono::steady_clock::now() - started);
    std::exception_ptr unconfirmed;
    if (error != 0) {
      log::error("storage", "event=flush_failed database={} reason=\"{}\" jobs={}",
                 database_.string(), std::strerror(error), jobs->size());
      auto why = error == ENOSPC || error == EDQUOT ? store_error::kind::full
                                                    : store_error::kind::temporary;
      unconfirmed = std::make_exception_ptr(store_error(
          why, fmt::format("the disk did not confirm the write: {}", std::strerror(error))));
    }
    for (auto& job : *jobs) {
      if (unconfirmed && !job.failure && job.undo) {
        // Its writes are in the log, and maybe on the disk, while its caller will hear that
        // it failed and try again: withdrawn first, before anything else runs, and the
        // caller told once the withdrawal is committed.
        queue_.push_first({std::move(job.undo),
                           [database = database_, done = std::move(job.done),
                            unconfirmed](std::exception_ptr failure) {
                             if (failure) {
                               log::error("storage", "event=undo_unconfirmed database={}",
                                          database.string());
                             }
                             done(unconfirmed);
                           },
                           std::chrono::steady_clock::now(), {}});
        continue;
      }
      job.done(job.failure ? job.failure : unconfirmed);
    }
  });
}

bool transaction_gone(const db::connection& db) { return !db.in_transaction(); }

}  // namespace missive
