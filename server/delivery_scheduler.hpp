// The background delivery loop: wakes when a message is committed (and once a minute to
// sweep up anything due), and delivers due local recipients in batched transactions.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

namespace missive {

class mail_store;

// Drives local delivery; all of it runs on the network thread's executor, while the
// transactions themselves run on the storage writer.
class delivery_scheduler {
 public:
  delivery_scheduler(asio::any_io_executor executor, mail_store& store);

  // Says that new mail was committed: deliver soon.
  void notify();
  // The loop; returns after stop().
  asio::awaitable<void> run();
  // Ends the loop at its next wake-up.
  void stop();

 private:
  mail_store& store_;
  asio::steady_timer wake_;
  bool work_pending_ = false;
  bool stopping_ = false;
};

}  // namespace missive
