// Flushing the log after the commit: see log_flusher.hpp.
#include "log_flusher.hpp"

#include <cerrno>

namespace missive {

log_flusher::log_flusher(std::vector<flush_function> flushes) : flush_(std::move(flushes)) {
  for (const auto& flush : flush_) threads_.emplace_back([this, &flush] { thread_main(flush); });
}

log_flusher::~log_flusher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
  // Batches still waiting were flushed while the log was suspect, and never rewritten.
  for (auto& confirmed : take_waiting(0)) confirmed(EIO);
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

std::uint64_t log_flusher::failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

bool log_flusher::suspect() const {
  std::lock_guard lock(mutex_);
  return suspect_;
}

void log_flusher::fail_waiting(int error) {
  std::vector<confirmation> settled;
  {
    std::lock_guard lock(mutex_);
    settled = take_waiting(0);
  }
  for (auto& confirmed : settled) confirmed(error);
}

void log_flusher::log_rewritten(int error, std::uint64_t failures_seen) {
  std::vector<confirmation> settled;
  {
    std::lock_guard lock(mutex_);
    if (error == 0 && failures_ != failures_seen) error = EIO;  // a new failure came first
    if (error == 0) suspect_ = false;
    settled = take_waiting(0);
  }
  for (auto& confirmed : settled) confirmed(error);
}

std::vector<log_flusher::confirmation> log_flusher::take_waiting(std::uint64_t covers) {
  std::vector<confirmation> taken;
  while (!waiting_.empty() && (covers == 0 || waiting_.front().first <= covers)) {
    taken.push_back(std::move(waiting_.front().second));
    waiting_.pop_front();
  }
  return taken;
}

void log_flusher::thread_main(const flush_function& flush) {
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
    int error = flush();
    lock.lock();
    // On success, the batches this flush covers (none while the log is suspect: they wait
    // for the writer); on failure, every batch still waiting, since a later flush's success
    // says nothing of what was written before this one failed.
    if (error != 0) {
      suspect_ = true;
      ++failures_;
    }
    if (error == 0 && suspect_) continue;
    auto settled = take_waiting(error != 0 ? 0 : covers);
    if (settled.empty()) continue;
    lock.unlock();
    for (auto& confirmed : settled) confirmed(error);
    lock.lock();
  }
}

}  // namespace missive
