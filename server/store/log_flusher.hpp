// Makes a writer's commits durable after the fact, so that the writer need not wait for the
// disk between batches. The SQLite writer commits with synchronous=NORMAL: the write-ahead
// log is written but not flushed, and the writer goes on to the next batch at once. Each
// committed batch then waits here for a flush of the log that began after its commit; only
// then are its jobs reported (and a session answers 250). Several flushes may be under way
// at once, so a batch committed while one is in progress need not wait for that one to end
// and then for its own: on a disk whose flush takes milliseconds, that wait was most of a
// message's time (bench/RESULTS.md, "The slow disk").
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace missive {

class log_flusher {
 public:
  // Flushes the log: 0, or the errno of the failure.
  using flush_function = std::function<int()>;
  // Told the outcome for one committed batch: 0 once it is on stable storage, or the errno
  // of a flush that failed while it waited (its writes may not be on the disk).
  using confirmation = std::function<void(int error)>;

  // One thread per flush function, each running its own: a flush of the log through its own
  // descriptor, since the kernel reports a failed write-back once per open file, and two
  // flushes through one descriptor could see one error between them.
  explicit log_flusher(std::vector<flush_function> flushes);
  log_flusher(const log_flusher&) = delete;
  log_flusher& operator=(const log_flusher&) = delete;
  // Confirms (or fails) every batch handed in, then stops the threads.
  ~log_flusher();

  // A batch has committed (its writes are in the log): `confirmed` runs on a flusher thread
  // once a flush begun after this call has succeeded, or when any flush fails first.
  void committed(confirmation confirmed);

  // Flushes begun so far (for tests and benchmarks), and flushes that failed.
  std::uint64_t flushes() const;
  std::uint64_t failures() const;

  // After a failed flush the log is suspect: the kernel may have dropped pages it could not
  // write, and a log with a hole loses, at recovery, every commit after the hole. Until the
  // writer has rewritten the log (log_rewritten), a successful flush confirms nothing.
  bool suspect() const;
  // Fails every batch waiting (the writer's answer to a failed flush: what committed after
  // it may have read what is being withdrawn).
  void fail_waiting(int error);
  // The writer's attempt to make the log whole again: 0 when everything committed so far is
  // on stable storage by another way (the log copied into the database file, synced, and
  // emptied), which confirms every batch waiting and ends the suspicion, unless another
  // flush failed since the writer last looked (`failures_seen`); else the errno, which
  // fails them.
  void log_rewritten(int error, std::uint64_t failures_seen);

 private:
  void thread_main(const flush_function& flush);
  // Takes the batches to tell, under the lock: those up to `covers` (all when 0).
  std::vector<confirmation> take_waiting(std::uint64_t covers);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // Batches not yet confirmed, oldest first, each with its place in the order of commits.
  std::deque<std::pair<std::uint64_t, confirmation>> waiting_;
  std::uint64_t last_committed_ = 0;  // the newest batch's place
  std::uint64_t last_covered_ = 0;    // the newest batch a flush already under way covers
  std::uint64_t flushes_ = 0;
  std::uint64_t failures_ = 0;
  bool suspect_ = false;
  bool stopping_ = false;
  std::vector<flush_function> flush_;
  std::vector<std::thread> threads_;
};

}  // namespace missive
