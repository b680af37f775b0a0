// Threads that own SQLite connections and run jobs for the network threads, which never
// touch SQLite themselves. The writer is one such thread in group-commit mode: it runs
// every job that is waiting inside one transaction, so many sessions share one fsync.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/awaitable.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace missive {

// A job's failure as the layers above the store see it: an SQLite error becomes a
// store_error (store_error.hpp) of the right kind; anything else is passed on as it is.
std::exception_ptr as_store_error(std::exception_ptr failure);

namespace db {
class connection;
}

// The completion signature of a job's awaitable: an error, and the result unless void.
template <typename T>
struct job_signature {
  using type = void(std::exception_ptr, T);
};
template <>
struct job_signature<void> {
  using type = void(std::exception_ptr);
};

// A pool of threads, each with its own connection to one database, running submitted jobs.
class sqlite_worker {
 public:
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

  // Queues a job; `done` runs on the worker thread afterwards.
  void submit(job work, completion done);

  // Runs `work(connection)` on a worker and resumes the calling coroutine on its own executor
  // with the result, after the commit in group-commit mode; rethrows what the job threw.
  template <typename Function>
  auto run(Function work) -> asio::awaitable<std::invoke_result_t<Function, db::connection&>>;

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
  };
  void run_batch(db::connection& db, std::vector<queued_job>& batch);
  // The batch in one transaction; true if a job failed and the batch must run again
  // with savepoints (nothing was committed).
  bool run_together(db::connection& db, std::vector<queued_job>& batch,
                    std::vector<std::exception_ptr>& failures);
  void run_with_savepoints(db::connection& db, std::vector<queued_job>& batch,
                           std::vector<std::exception_ptr>& failures);

  std::filesystem::path database_;
  mode mode_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<queued_job> pending_;
  bool stopping_ = false;
  std::uint64_t batches_ = 0;
  std::vector<std::thread> threads_;
};

template <typename Function>
auto sqlite_worker::run(Function work)
    -> asio::awaitable<std::invoke_result_t<Function, db::connection&>> {
  // Not a coroutine itself: the returned awaitable starts the job when awaited. (Coroutines
  // taking class types by value are avoided: GCC 12 mishandles such parameter copies.)
  using result_type = std::invoke_result_t<Function, db::connection&>;
  constexpr bool is_void = std::is_void_v<result_type>;
  using signature = typename job_signature<result_type>::type;
  auto initiate = [this](auto handler, Function work) {
    auto executor = asio::get_associated_executor(handler);
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    auto result = std::make_shared<std::conditional_t<is_void, bool, result_type>>();
    submit([work = std::move(work), result](db::connection& db) mutable {
             if constexpr (is_void) work(db);
             else *result = work(db);
           },
           // The work guard keeps the caller's io_context running while the job is out.
           [work_guard = asio::make_work_guard(executor), shared_handler,
            result](std::exception_ptr failure) {
             failure = as_store_error(failure);
             asio::post(work_guard.get_executor(), [shared_handler, result, failure] {
               if constexpr (is_void) (*shared_handler)(failure);
               else (*shared_handler)(failure, std::move(*result));
             });
           });
  };
  return asio::async_initiate<decltype(asio::use_awaitable), signature>(
      std::move(initiate), asio::use_awaitable, std::move(work));
}

}  // namespace missive
