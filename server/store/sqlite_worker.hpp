// Threads that own SQLite connections and run jobs for the network threads, which never
// touch SQLite themselves. The writer is one such thread in group-commit mode: it runs
// every job that is waiting inside one transaction, so many sessions share one fsync, and
// it does not wait for that fsync: a log_flusher confirms each batch once the log is on
// stable storage, while the writer already commits the next.
#pragma once


#include <chrono>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "job_queue.hpp"
#include "worker_job.hpp"

namespace missive {

// A job's failure as the layers above the store see it: an SQLite error becomes a
// store_error (store_error.hpp) of the right kind; anything else is passed on as it is.
std::exception_ptr as_store_error(std::exception_ptr failure);

namespace db {
class connection;
}
class log_flusher;

// A pool of threads, each with its own connection to one database, running submitted jobs.
class sqlite_worker {
 public:
  using connection_type = db::connection;
  // A unit of work; it runs on a worker thread with that thread's connection. In
  // group-commit mode a job may run twice (when another job of its batch fails, the batch
  // is rolled back and run again), so a job's only effects are on the database and on
  // its own result.
  using job = std::function<void(db::connection&)>;
  // Called on the worker thread when the job is done (and, when grouped, committed).
  using completion = std::function<void(std::exception_ptr)>;

  // How jobs are run.
  enum class mode {
    group_commit,  // one thread; each batch of waiting jobs in one transaction
    independent,   // any number of threads; each job on its own
  };

  sqlite_worker(std::filesystem::path database, mode how, int threads);
  sqlite_worker(const sqlite_worker&) = delete;
  sqlite_worker& operator=(const sqlite_worker&) = delete;
  // Finishes every job already submitted, then stops the threads.
  ~sqlite_worker();

  // Queues a job; `done` runs on a worker (or flusher) thread afterwards. `undo`, when given,
  // withdraws the job's writes if they committed but the disk did not confirm them
  // (undoable_job in worker_job.hpp).
  void submit(job work, completion done, job undo = {});

  // Runs `work(connection)` on a worker and resumes the calling coroutine on its own executor
  // with the result, after the commit in group-commit mode; rethrows what the job threw.
  template <typename Function>
  auto run(Function work) {
    return run_job(*this, std::move(work));
  }
  // A job's failure as the layers above see it (as_store_error).
  static std::exception_ptr translate(std::exception_ptr failure) {
    return as_store_error(failure);
  }

  // The number of batches committed so far, and of jobs in them (for benchmarks and tests).
  std::uint64_t batches() const;

 private:
  void thread_main();
  // A job waiting for the worker, and when it was submitted (its lock-wait budget runs
  // from then, not from when the worker gets to it).
  struct queued_job {
    job work;
    completion done;
    std::chrono::steady_clock::time_point submitted;
    job undo;
  };
  void run_batch(db::connection& db, std::vector<queued_job>& batch, log_flusher* flusher);
  // Reports a committed batch once `flusher` has the log on stable storage.
  void confirm_later(log_flusher& flusher, std::vector<queued_job>& batch,
                     std::vector<std::exception_ptr>& failures,
                     std::chrono::steady_clock::time_point started);

  std::filesystem::path database_;
  mode mode_;
  job_queue<queued_job> queue_;
  std::vector<std::thread> threads_;
};

}  // namespace missive
