// End-to-end lag bookkeeping: when each queue id was accepted (the 250 after DATA reached
// the generator) and when it was first seen in the mailbox (a POP3 UIDL listed it). Either
// may come first: a fast relay can deliver before the generator has read its 250.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace missive::bench {

// Matches acceptances to sightings by queue id.
class lag_tracker {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  // Records that `queue_id` was accepted at `at`.
  void accepted(const std::string& queue_id, time_point at);
  // Records that `queue_id` was listed in the mailbox at `at`; later sightings are ignored.
  void seen(const std::string& queue_id, time_point at);

  // Whether every accepted queue id has been seen.
  bool all_seen() const { return matched_ == accepted_; }
  // How many accepted queue ids have not been seen.
  std::size_t missing() const { return accepted_ - matched_; }
  // How many listed queue ids were never accepted in this run (earlier runs' mail).
  std::size_t strangers() const { return seen_ - matched_; }

  // One lag per accepted and seen message, in milliseconds, in the order of acceptance;
  // a sighting before the 250 arrived counts as 0.
  std::vector<double> lags_ms() const;

 private:
  struct times {
    std::optional<time_point> accepted;
    std::optional<time_point> seen;
  };
  std::unordered_map<std::string, times> by_id_;
  std::size_t accepted_ = 0;
  std::size_t seen_ = 0;
  std::size_t matched_ = 0;
};

}  // namespace missive::bench
