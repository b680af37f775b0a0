// Unit tests for log_flusher: a committed batch is confirmed only by a flush that began after
// its commit; flushes overlap; a failed flush fails every batch still waiting.
#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include "log_flusher.hpp"

using namespace missive;
using namespace std::chrono_literals;

namespace {

// A disk whose flushes the test ends one by one, with the result it chooses.
class held_disk {
 public:
  // The flush function for the flusher: waits until the test ends flush number n (from 1).
  int flush() {
    std::unique_lock lock(mutex_);
    int n = ++started_;
    changed_.notify_all();
    changed_.wait_for(lock, 10s, [&] { return results_.count(n) > 0; });
    return results_.count(n) ? results_[n] : EIO;
  }
  // Ends flush n with `error` (0: success).
  void finish(int n, int error = 0) {
    std::lock_guard lock(mutex_);
    results_[n] = error;
    changed_.notify_all();
  }
  // Waits (bounded) until `n` flushes have begun; whether they had.
  bool wait_started(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return started_ >= n; });
  }
  int started() {
    std::lock_guard lock(mutex_);
    return started_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int started_ = 0;
  std::map<int, int> results_;
};

// What each batch was told, by name: -1 while it waits.
class outcomes {
 public:
  log_flusher::confirmation of(char batch) {
    {
      std::lock_guard lock(mutex_);
      told_[batch] = -1;
    }
    return [this, batch](int error) {
      std::lock_guard lock(mutex_);
      told_[batch] = error;
      changed_.notify_all();
    };
  }
  // Waits (bounded) until `batch` has been told; what it was told (-1: nothing yet).
  int wait(char batch) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return told_[batch] != -1; });
    return told_[batch];
  }
  int now(char batch) {
    std::lock_guard lock(mutex_);
    return told_[batch];
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<char, int> told_;
};

// `threads` flush functions that all flush `disk`.
std::vector<log_flusher::flush_function> flushes_of(held_disk& disk, int threads) {
  return std::vector<log_flusher::flush_function>(threads, [&disk] { return disk.flush(); });
}

}  // namespace

TEST_CASE("log_flusher: a batch committed during a flush waits for a flush of its own") {
  held_disk disk;
  outcomes told;
  log_flusher flusher(flushes_of(disk, 1));
  flusher.committed(told.of('A'));
  REQUIRE(disk.wait_started(1));
  flusher.committed(told.of('B'));  // written after flush 1 began: not covered by it
  disk.finish(1);
  CHECK(told.wait('A') == 0);
  REQUIRE(disk.wait_started(2));
  CHECK(told.now('B') == -1);
  disk.finish(2);
  CHECK(told.wait('B') == 0);
  CHECK(flusher.flushes() == 2);
}

TEST_CASE("log_flusher: flushes overlap, and a later one confirms the batches before it") {
  held_disk disk;
  outcomes told;
  log_flusher flusher(flushes_of(disk, 2));
  flusher.committed(told.of('A'));
  REQUIRE(disk.wait_started(1));
  flusher.committed(told.of('B'));
  REQUIRE(disk.wait_started(2));  // the second flush began while the first was under way
  disk.finish(2);                 // it began after A's commit too
  CHECK(told.wait('A') == 0);
  CHECK(told.wait('B') == 0);
  disk.finish(1);
}

TEST_CASE("log_flusher: many batches committed during one flush share the next") {
  held_disk disk;
  outcomes told;
  log_flusher flusher(flushes_of(disk, 1));
  flusher.committed(told.of('A'));
  REQUIRE(disk.wait_started(1));
  for (char batch : {'B', 'C', 'D'}) flusher.committed(told.of(batch));
  disk.finish(1);
  REQUIRE(disk.wait_started(2));
  disk.finish(2);
  for (char batch : {'A', 'B', 'C', 'D'}) CHECK(told.wait(batch) == 0);
  CHECK(disk.started() == 2);
}

TEST_CASE("log_flusher: a failed flush fails every batch still waiting; after a rewrite, "
          "flushing goes on") {
  held_disk disk;
  outcomes told;
  log_flusher flusher(flushes_of(disk, 2));
  flusher.committed(told.of('A'));
  REQUIRE(disk.wait_started(1));
  flusher.committed(told.of('B'));
  REQUIRE(disk.wait_started(2));
  // Flush 1 fails: B is failed too, though flush 2 (which covers it) has not ended, since
  // after a failed flush the kernel may have dropped what was written before it.
  disk.finish(1, EIO);
  CHECK(told.wait('A') == EIO);
  CHECK(told.wait('B') == EIO);
  disk.finish(2);
  flusher.log_rewritten(0, flusher.failures());
  flusher.committed(told.of('C'));
  REQUIRE(disk.wait_started(3));
  disk.finish(3);
  CHECK(told.wait('C') == 0);
}

TEST_CASE("log_flusher: stopping confirms every batch handed in") {
  outcomes told;
  {
    log_flusher flusher({[] { return 0; }, [] { return 0; }, [] { return 0; }});
    for (char batch : {'A', 'B', 'C', 'D', 'E'}) flusher.committed(told.of(batch));
  }
  for (char batch : {'A', 'B', 'C', 'D', 'E'}) CHECK(told.now(batch) == 0);
}

TEST_CASE("log_flusher: after a failed flush, only a rewritten log confirms anything") {
  held_disk disk;
  outcomes told;
  log_flusher flusher(flushes_of(disk, 1));
  flusher.committed(told.of('A'));
  REQUIRE(disk.wait_started(1));
  disk.finish(1, EIO);
  CHECK(told.wait('A') == EIO);
  CHECK(flusher.suspect());

  // B's flush succeeds, but the log may have a hole before B: B waits for the rewrite.
  flusher.committed(told.of('B'));
  REQUIRE(disk.wait_started(2));
  disk.finish(2);
  flusher.committed(told.of('C'));  // a third flush shows the second was handled
  REQUIRE(disk.wait_started(3));
  CHECK(told.now('B') == -1);
  // The rewrite failed: B and C fail, and the log stays suspect.
  flusher.log_rewritten(EIO, flusher.failures());
  CHECK(told.now('B') == EIO);
  CHECK(told.now('C') == EIO);
  CHECK(flusher.suspect());
  disk.finish(3);

  flusher.committed(told.of('D'));
  REQUIRE(disk.wait_started(4));
  disk.finish(4);
  flusher.log_rewritten(0, flusher.failures());  // the log is whole again: D is on the disk
  CHECK(told.wait('D') == 0);
  CHECK_FALSE(flusher.suspect());

  flusher.committed(told.of('E'));
  REQUIRE(disk.wait_started(5));
  disk.finish(5);
  CHECK(told.wait('E') == 0);
}

TEST_CASE("log_flusher: stopping while the log is suspect fails what waits for the rewrite") {
  held_disk disk;
  outcomes told;
  {
    log_flusher flusher(flushes_of(disk, 1));
    flusher.committed(told.of('A'));
    REQUIRE(disk.wait_started(1));
    disk.finish(1, EIO);
    CHECK(told.wait('A') == EIO);
    flusher.committed(told.of('B'));
    REQUIRE(disk.wait_started(2));
    disk.finish(2);
  }
  CHECK(told.now('B') == EIO);
}

TEST_CASE("log_flusher: a rewrite confirms nothing when another flush failed since the writer looked") {
  held_disk disk;
  outcomes told;
  log_flusher flusher(flushes_of(disk, 1));
  flusher.committed(told.of('A'));
  REQUIRE(disk.wait_started(1));
  disk.finish(1, EIO);
  CHECK(told.wait('A') == EIO);
  std::uint64_t seen = flusher.failures();
  CHECK(seen == 1);

  flusher.committed(told.of('B'));
  REQUIRE(disk.wait_started(2));
  disk.finish(2, EIO);  // fails B, and counts
  CHECK(told.wait('B') == EIO);
  flusher.committed(told.of('C'));
  REQUIRE(disk.wait_started(3));
  disk.finish(3);
  flusher.committed(told.of('D'));  // shows flush 3 was handled
  REQUIRE(disk.wait_started(4));
  CHECK(told.now('C') == -1);
  // The writer rewrote the log having seen one failure, but there were two: C may have read
  // what B's failure withdraws, so it fails.
  flusher.log_rewritten(0, seen);
  CHECK(told.now('C') == EIO);
  CHECK(told.now('D') == EIO);
  CHECK(flusher.suspect());
  disk.finish(4);
  flusher.committed(told.of('E'));
  REQUIRE(disk.wait_started(5));
  disk.finish(5);
  flusher.log_rewritten(0, flusher.failures());
  CHECK(told.wait('E') == 0);
  CHECK_FALSE(flusher.suspect());
}

TEST_CASE("log_flusher: fail_waiting fails what waits, and flushing goes on") {
  held_disk disk;
  outcomes told;
  log_flusher flusher(flushes_of(disk, 1));
  flusher.committed(told.of('A'));
  REQUIRE(disk.wait_started(1));
  flusher.fail_waiting(EIO);
  CHECK(told.now('A') == EIO);
  disk.finish(1);
  flusher.committed(told.of('B'));
  REQUIRE(disk.wait_started(2));
  disk.finish(2);
  CHECK(told.wait('B') == 0);
}
