// The background delivery loop: see delivery_scheduler.hpp.
#include "delivery_scheduler.hpp"

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>

#include "log.hpp"
#include "mail_store.hpp"

namespace missive {

namespace {

// Recipients per delivery transaction: large enough to share fsyncs under load, small
// enough that one transaction stays short.
constexpr std::size_t batch_size = 256;
// How often the queue is swept when nothing wakes the loop.
constexpr auto sweep_interval = std::chrono::minutes(1);
// How long to wait after a storage error before trying again.
constexpr auto error_pause = std::chrono::seconds(1);

}  // namespace

delivery_scheduler::delivery_scheduler(asio::any_io_executor executor, mail_store& store)
    : store_(store), wake_(executor) {}

void delivery_scheduler::notify() {
  work_pending_ = true;
  wake_.cancel();
}

void delivery_scheduler::stop() {
  stopping_ = true;
  wake_.cancel();
}

asio::awaitable<void> delivery_scheduler::run() {
  while (!stopping_) {
    work_pending_ = false;
    std::chrono::steady_clock::duration pause = sweep_interval;
    try {
      auto outcomes = co_await store_.deliver_local_batch(batch_size);
      // Logged only now that the batch is committed (Postfix-style lines, queue id first).
      for (const auto& o : outcomes) {
        log::info(o.queue_id, "to=<{}>, relay=local, delay={}, status={} ({})", o.recipient,
                  o.delay_seconds, o.status, o.detail);
      }
      if (outcomes.size() == batch_size) continue;  // more is waiting
    } catch (const std::exception& e) {
      log::error("delivery", "event=delivery_failed reason=\"{}\"", e.what());
      pause = error_pause;
    }
    if (stopping_) break;
    if (work_pending_ && pause == sweep_interval) continue;
    wake_.expires_after(pause);
    std::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace missive
