// Runs one coroutine to completion on an io_context, for one-shot commands (the client's, the
// relay's admin commands).
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <exception>
#include <optional>

namespace missive {

// Runs `task` on `context` until it finishes; returns its value or rethrows its exception.
template <typename T>
T run_sync(asio::io_context& context, asio::awaitable<T> task) {
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(context, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
  });
  context.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace missive
