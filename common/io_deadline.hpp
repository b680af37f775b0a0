// A deadline for the one asynchronous operation a client has pending at a time, enforced by a
// plain callback timer: when it passes, the connection's operations are cancelled, so the
// pending one ends with operation_aborted, and the caller learns from disarm() that the
// deadline was the cause. Not the awaitable `||` racing a timer: Asio 1.22's parallel_group
// calls a freed cancellation handler when many operations end at once (seen under UBSan), so
// the client transport under the SMTP and POP3 clients, like the server's sessions
// (connection_io), uses a watchdog.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace missive {

// The deadline of one pending operation at a time.
class io_deadline {
 public:
  using clock = std::chrono::steady_clock;

  explicit io_deadline(const asio::any_io_executor& executor);
  io_deadline(const io_deadline&) = delete;
  io_deadline& operator=(const io_deadline&) = delete;

  // Arms the deadline at `when`; `cancel` runs if it passes before disarm() (it should
  // cancel the I/O object the operation runs on).
  void arm_at(clock::time_point when, std::function<void()> cancel);
  // Arms the deadline `timeout` from now.
  void arm(clock::duration timeout, std::function<void()> cancel) {
    arm_at(clock::now() + timeout, std::move(cancel));
  }
  // Disarms it after the operation ended; true when the deadline had passed (the operation
  // was cut short by it, whatever error it reported).
  bool disarm();

 private:
  asio::steady_timer timer_;
  std::uint64_t armed_ = 0;  // which arming a firing belongs to: an old one is ignored
  bool expired_ = false;
  // Expires with this object: a firing already queued when it is destroyed touches nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace missive
