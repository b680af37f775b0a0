// One client TCP connection of the load generator: connect, write, read SMTP replies or
// POP3 lines, every step within one per-step timeout that a timer enforces by closing the
// socket. Failures (refused, reset, EOF, timeout, an unreadable reply) come back as `false`
// with error() saying what happened; nothing throws for expected network outcomes.
//
// Coroutines here take no class-type argument by value, callers pass only named objects by
// reference, and the result of every co_await is kept in a named variable before it is
// tested (never `if (!co_await ...)`): GCC 12 miscompiles the other forms (seen here as a
// callee getting its arguments shifted by one).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "smtp_reply.hpp"
#include "smtp_reply_parser.hpp"

namespace missive::bench {

using bench_clock = std::chrono::steady_clock;

// A client connection with a per-step deadline.
class connection {
 public:
  // A connection whose every step (connect, write, one reply, one line) must finish within
  // `step_timeout`.
  connection(const asio::any_io_executor& executor, bench_clock::duration step_timeout);
  // Closes the socket and cancels the watchdog.
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Connects to `endpoint` with TCP_NODELAY; false if it failed.
  asio::awaitable<bool> connect(const asio::ip::tcp::endpoint& endpoint);
  // Sends all of `bytes`; false if the connection failed.
  asio::awaitable<bool> write(const std::string& bytes);
  // Reads one whole SMTP reply (RFC 5321 4.2) into `reply`; false if the connection ended
  // or the reply could not be read.
  asio::awaitable<bool> read_reply(smtp_reply& reply);
  // Reads one line ending in LF, without its line ending (a CR before the LF is removed).
  asio::awaitable<bool> read_line(std::string& line);
  // Waits (one step at most) for the peer to close, discarding what it still sends: the
  // server then holds the TIME_WAIT state, not the generator's ephemeral port.
  asio::awaitable<void> wait_for_close();
  // Closes the socket (idempotent).
  void close();

  // What went wrong with the last step that failed: "timeout", "closed by peer", ...
  const std::string& error() const { return error_; }

 private:
  // The socket and the timer that closes it at the deadline, shared with the timer's
  // handler so that a handler already queued never touches freed memory.
  struct shared_state {
    shared_state(const asio::any_io_executor& executor) : socket(executor), timer(executor) {}
    asio::ip::tcp::socket socket;
    asio::steady_timer timer;
    bench_clock::time_point deadline;
    bool waiting = false;
    bool timed_out = false;
  };

  // Sets the deadline of the next step to now + step_timeout.
  void arm();
  // Starts the timer towards the deadline (re-started while the deadline moves on).
  static void watch(const std::shared_ptr<shared_state>& state);
  // Reads more input into the buffer; false if the connection ended.
  asio::awaitable<bool> fill();
  // Records why a step failed from an error code, "timeout" when the watchdog closed it.
  void fail(const std::error_code& ec, const char* what);

  std::shared_ptr<shared_state> state_;
  bench_clock::duration step_timeout_;
  std::string input_;
  std::size_t start_ = 0;  // input_ before start_ has been consumed
  smtp_reply_parser parser_;
  std::string error_;
};

}  // namespace missive::bench
