// What the relay last learned about local recipient addresses (a user, or no such user),
// so that RCPT does not ask the database, on another thread, for every message. An answer
// holds while the users' change counter (user_generation) is where it was when the answer
// was read from the database, and for `lifetime` at most: a change made behind missived's
// back (an SQLite shell) is seen within that time.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace missive {

class local_user_cache {
 public:
  using clock = std::chrono::steady_clock;
  // The stored address of the user an address names, or nullopt: no such user.
  using answer = std::optional<std::string>;

  explicit local_user_cache(std::chrono::seconds lifetime = std::chrono::seconds(10),
                            std::size_t capacity = 10000);

  // The remembered answer for `address` (any case), if one holds at `generation`.
  std::optional<answer> find(std::string_view address, std::uint64_t generation,
                             clock::time_point now);
  // Keeps an answer read from the database after the counter was read as `generation`.
  // An answer from an older generation than the newest seen is dropped: it may be stale.
  void remember(std::string_view address, answer found, std::uint64_t generation,
                clock::time_point now);

 private:
  struct entry {
    answer found;
    clock::time_point expires;
  };
  // Forgets everything when the counter has moved (caller holds the mutex).
  void catch_up(std::uint64_t generation);

  std::chrono::seconds lifetime_;
  std::size_t capacity_;
  std::mutex mutex_;  // found on the network thread, remembered on a reader thread
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, entry> entries_;
};

}  // namespace missive
