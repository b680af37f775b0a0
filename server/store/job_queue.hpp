// The queue between the network threads and a store's worker threads (sqlite_worker,
// pg_worker): jobs pushed from anywhere, taken in batches by the workers, drained on stop.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace missive {

template <typename Job>
class job_queue {
 public:
  // Adds a job and wakes one worker.
  void push(Job job) {
    {
      std::lock_guard lock(mutex_);
      pending_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

  // Adds a job before every job waiting: for work that must run before anything queued
  // after it (an undo: sqlite_worker).
  void push_first(Job job) {
    {
      std::lock_guard lock(mutex_);
      pending_.push_front(std::move(job));
    }
    wake_.notify_one();
  }

  // Waits for jobs and moves up to `most` of them into `batch`; false once stopped with
  // nothing left (every job pushed before stop() is still handed out).
  bool take(std::size_t most, std::vector<Job>& batch) {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return false;
    std::size_t count = std::min(pending_.size(), most);
    for (std::size_t i = 0; i < count; ++i) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    ++batches_;
    return true;
  }

  // Lets every worker finish what is queued, then end.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
  }

  // Batches handed out so far.
  std::uint64_t batches() const {
    std::lock_guard lock(mutex_);
    return batches_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> pending_;
  bool stopping_ = false;
  std::uint64_t batches_ = 0;
};

}  // namespace missive
