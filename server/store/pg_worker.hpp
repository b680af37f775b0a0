// Threads that own PostgreSQL connections and run jobs for the network threads, which never
// wait on libpq themselves. The writer is one such thread in group-commit mode: it runs
// every job that is waiting inside one transaction, so many sessions share one COMMIT. A
// connection that broke is made again before the next batch: while PostgreSQL is away,
// jobs fail at once as temporary (the SMTP client hears 451) and nothing needs a restart.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "job_queue.hpp"
#include "worker_job.hpp"

namespace missive {

namespace pg {
class connection;
}

// A job's failure as the layers above the store see it: a PostgreSQL error becomes a
// store_error of the right kind; anything else is passed on as it is.
std::exception_ptr as_store_error_pg(std::exception_ptr failure);

// A pool of threads, each with its own connection to one PostgreSQL database.
class pg_worker {
 public:
  using connection_type = pg::connection;
  // A unit of work on a worker thread's connection. In group-commit mode a job may run
  // twice (when another job of its batch fails, the batch runs again with savepoints), so
  // its only effects are on the database and on its own result.
  using job = std::function<void(pg::connection&)>;
  // Called on the worker thread when the job is done (and, when grouped, committed).
  using completion = std::function<void(std::exception_ptr)>;
  // Run on each new connection before any job (LISTEN, session settings).
  using on_connect = std::function<void(pg::connection&)>;

  enum class mode {
    group_commit,  // one thread; each batch of waiting jobs in one transaction
    independent,   // any number of threads; each job on its own (autocommit)
  };

  // `name`: the connections' application_name, for pg_stat_activity.
  pg_worker(std::string conninfo, std::string name, mode how, int threads,
            on_connect setup = {});
  pg_worker(const pg_worker&) = delete;
  pg_worker& operator=(const pg_worker&) = delete;
  // Finishes every job already submitted, then stops the threads.
  ~pg_worker();

  // Queues a job; `done` runs on the worker thread afterwards.
  void submit(job work, completion done);
  // Queues a job in two parts (two_part_job): in group-commit mode, a batch made only of
  // such jobs is sent at once in pipeline mode (BEGIN, every job's statements, COMMIT) and
  // answered in one round trip.
  void submit_in_two_parts(job send, job receive, completion done);

  // Runs `work(connection)` on a worker; see run_job (worker_job.hpp).
  template <typename Function>
  auto run(Function work) {
    return run_job(*this, std::move(work));
  }
  static std::exception_ptr translate(std::exception_ptr failure) {
    return as_store_error_pg(failure);
  }

  // The number of batches run so far (for benchmarks and tests).
  std::uint64_t batches() const;

 private:
  struct queued_job {
    job work;
    completion done;
    job send, receive;  // set for a job in two parts (work is then both in turn)
  };
  void thread_main();
  // The thread's connection, made again if it broke; throws when PostgreSQL is away.
  pg::connection& connected(std::unique_ptr<pg::connection>& db);
  void run_batch(pg::connection& db, std::vector<queued_job>& batch);
  // Runs a batch of two-part jobs in one pipeline; false if one of them failed (then
  // nothing was committed).
  bool commit_pipelined(pg::connection& db, std::vector<queued_job>& batch);

  std::string conninfo_;
  std::string name_;
  mode mode_;
  on_connect setup_;
  job_queue<queued_job> queue_;
  std::vector<std::thread> threads_;
};

}  // namespace missive
