// What the scheduler reads that varies from run to run: the time, and the chance that
// spreads retries (jitter). Injected, so backoff and expiry are tested without waiting.
#pragma once

#include <chrono>

namespace missive {

// The time as the scheduler sees it.
class clock {
 public:
  virtual ~clock() = default;
  // The current time.
  virtual std::chrono::system_clock::time_point now() const = 0;
};

// The system's clock: what the running relay uses.
class system_time : public clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};

// A number drawn uniformly from [0, 1), for the jitter of one retry (retry_delay).
double random_jitter();

}  // namespace missive
