// A watchdog deadline for a client's pending operation: see io_deadline.hpp.
#include "io_deadline.hpp"

namespace missive {

io_deadline::io_deadline(const asio::any_io_executor& executor) : timer_(executor) {}

void io_deadline::arm_at(clock::time_point when, std::function<void()> cancel) {
  expired_ = false;
  std::uint64_t arming = ++armed_;
  timer_.expires_at(when);  // cancels a wait still pending from an earlier arming
  timer_.async_wait([this, arming, alive = std::weak_ptr<int>(alive_),
                     cancel = std::move(cancel)](std::error_code ec) {
    // Cancelled, destroyed, or an arming the caller has disarmed since: touch nothing.
    if (ec || alive.expired() || arming != armed_) return;
    expired_ = true;
    cancel();
  });
}

bool io_deadline::disarm() {
  ++armed_;  // a firing already queued for the old arming is now ignored
  timer_.cancel();
  return expired_;
}

}  // namespace missive
