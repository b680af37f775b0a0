// Running blocking work (DNS lookups) on a thread pool and awaiting its result from a
// coroutine, which resumes on its own executor.
#pragma once

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

#include <memory>
#include <type_traits>

namespace missive {

// Runs `work()` on `pool`; the awaitable yields its result. Not a coroutine itself, and the
// work is taken by value: GCC 12 destroys temporaries bound to references in a co_await
// expression twice, so nothing here is such a temporary.
template <typename Function>
auto offload(asio::thread_pool& pool, Function work)
    -> asio::awaitable<std::invoke_result_t<Function>> {
  using result_type = std::invoke_result_t<Function>;
  auto initiate = [&pool](auto handler, Function work) {
    auto caller = asio::make_work_guard(asio::get_associated_executor(handler));
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    asio::post(pool, [work = std::move(work), caller, shared_handler]() mutable {
      auto result = std::make_shared<result_type>(work());
      asio::post(caller.get_executor(),
                 [shared_handler, result] { (*shared_handler)(std::move(*result)); });
    });
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void(result_type)>(
      std::move(initiate), asio::use_awaitable, std::move(work));
}

}  // namespace missive
