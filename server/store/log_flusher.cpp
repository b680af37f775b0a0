// Flushing the log after the commit: see log_flusher.hpp.
#include "log_flusher.hpp"

namespace missive {

log_flusher::log_flusher(flush_function flush, int most_at_once) : flush_(std::move(flush)) {
  for (int i = 0; i < most_at_once; ++i) threads_.emplace_back([this] { thread_main(); });
}

log_flusher::~log_flusher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void log_flusher::committed(confirmation confirmed) {
  {
    std::lock_guard lock(mutex_);
    waiting_.emplace_back(++last_committed_, std::move(confirmed));
  }
  wake_.notify_one();
}

std::uint64_t log_flusher::flushes() const {
  std::lock_guard lock(mutex_);
  return flushes_;
}

void log_flusher::thread_main() {
  std::vector<confirmation> settled;
  std::unique_lock lock(mutex_);
  for (;;) {
    // A flush is owed when some commit is not covered by a flush already under way. Once
    // stopping, a thread ends when none is: the flushes under way settle the rest.
    wake_.wait(lock, [this] { return stopping_ || last_committed_ > last_covered_; });
    if (last_committed_ == last_covered_) return;
    // Everything committed so far was written before this flush begins, so its success
    // puts all of it on stable storage (fdatasync covers what was written before the call).
    std::uint64_t covers = last_committed_;
    last_covered_ = covers;
    ++flushes_;
    lock.unlock();
    int error = flush_();
    lock.lock();
    // On success, the batches this flush covers; on failure, every batch still waiting:
    // after a failed flush the kernel may have dropped the log's dirty pages, so a later
    // flush's success says nothing about the writes made before it failed.
    while (!waiting_.empty() && (error != 0 || waiting_.front().first <= covers)) {
      settled.push_back(std::move(waiting_.front().second));
      waiting_.pop_front();
    }
    if (settled.empty()) continue;
    lock.unlock();
    for (auto& confirmed : settled) confirmed(error);
    settled.clear();
    lock.lock();
  }
}

}  // namespace missive
