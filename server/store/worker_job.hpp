// How a coroutine hands a job to a store's worker thread and resumes on its own executor
// with the result: shared by the SQLite and PostgreSQL workers (sqlite_worker, pg_worker).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <type_traits>

namespace missive {

// The completion signature of a job's awaitable: an error, and the result unless void.
template <typename T>
struct job_signature {
  using type = void(std::exception_ptr, T);
};
template <>
struct job_signature<void> {
  using type = void(std::exception_ptr);
};

// A job in two parts, for a worker that sends the statements of many jobs before it reads
// any answer (pg_worker's pipelined batches): send(connection) queues the job's statements,
// receive(connection) reads their answers and gives the result. Elsewhere it runs as one.
template <typename Send, typename Receive>
struct two_part_job {
  Send send;
  Receive receive;
  template <typename Connection>
  auto operator()(Connection& db) {
    send(db);
    return receive(db);
  }
};

// A job whose writes can be taken back, for a writer that may learn only after the commit
// that the disk did not keep them (sqlite_worker, when a flush of the log fails). The job's
// caller hears that it failed and will try again (an SMTP client told 451 sends the message
// again): undo(connection) then withdraws what the first try wrote, in a later transaction
// of the same writer, so that it does not take effect twice. (A PostgreSQL commit is the
// server's confirmation itself: pg_worker takes no undo.)
template <typename Work, typename Undo>
struct undoable_job {
  Work work;
  Undo undo;
  template <typename Connection>
  auto operator()(Connection& db) {
    return work(db);
  }
};

template <typename T>
inline constexpr bool is_undoable_job = false;
template <typename Work, typename Undo>
inline constexpr bool is_undoable_job<undoable_job<Work, Undo>> = true;

template <typename T>
inline constexpr bool is_two_part_job = false;
template <typename Send, typename Receive>
inline constexpr bool is_two_part_job<two_part_job<Send, Receive>> = true;

// Runs `work(connection)` on one of `worker`'s threads and resumes the calling coroutine on
// its own executor with the result (after the commit, for a group-commit writer); rethrows
// what the job threw, as the worker translated it (a store_error). Worker has
// `using connection_type`, `submit(job, completion)` and a static `translate(exception_ptr)`;
// for an undoable_job also `submit(job, completion, undo)`.
// Not a coroutine itself: the returned awaitable starts the job when awaited. (Coroutines
// taking class types by value are avoided: GCC 12 mishandles such parameter copies.)
template <typename Worker, typename Function>
auto run_job(Worker& worker, Function work)
    -> asio::awaitable<std::invoke_result_t<Function, typename Worker::connection_type&>> {
  using connection = typename Worker::connection_type;
  using result_type = std::invoke_result_t<Function, connection&>;
  constexpr bool is_void = std::is_void_v<result_type>;
  using signature = typename job_signature<result_type>::type;
  auto initiate = [&worker](auto handler, Function work) {
    auto executor = asio::get_associated_executor(handler);
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    auto result = std::make_shared<std::conditional_t<is_void, bool, result_type>>();
    // The work guard keeps the caller's io_context running while the job is out.
    auto done = [work_guard = asio::make_work_guard(executor), shared_handler,
                 result](std::exception_ptr failure) {
      failure = Worker::translate(failure);
      asio::post(work_guard.get_executor(), [shared_handler, result, failure] {
        if constexpr (is_void) (*shared_handler)(failure);
        else (*shared_handler)(failure, std::move(*result));
      });
    };
    if constexpr (is_two_part_job<Function>) {
      auto parts = std::make_shared<Function>(std::move(work));
      worker.submit_in_two_parts([parts](connection& db) { parts->send(db); },
                                 [parts, result](connection& db) {
                                   if constexpr (is_void) parts->receive(db);
                                   else *result = parts->receive(db);
                                 },
                                 std::move(done));
    } else if constexpr (is_undoable_job<Function>) {
      auto parts = std::make_shared<Function>(std::move(work));
      worker.submit(
          [parts, result](connection& db) {
            if constexpr (is_void) parts->work(db);
            else *result = parts->work(db);
          },
          std::move(done), [parts](connection& db) { parts->undo(db); });
    } else {
      worker.submit(
          [work = std::move(work), result](connection& db) mutable {
            if constexpr (is_void) work(db);
            else *result = work(db);
          },
          std::move(done));
    }
  };
  return asio::async_initiate<decltype(asio::use_awaitable), signature>(
      std::move(initiate), asio::use_awaitable, std::move(work));
}

}  // namespace missive
