// When to try a deferred recipient again: exponential backoff with jitter, a pure function.
#pragma once

#include <chrono>
#include <cstdint>

namespace missive {

// The retry settings ([queue] in the config).
struct retry_policy {
  std::chrono::seconds initial{300};
  std::chrono::seconds max{3600};
  std::chrono::seconds lifetime{5 * 86400};
  // After this long in the queue a message's sender is told once that it is late (RFC 3461
  // "delayed" DSN, [queue] delay_warning); 0: never.
  std::chrono::seconds delay_warning{0};
};

// The delay before attempt number `attempts + 1`, after `attempts` failed attempts (>= 1):
// initial * 2^(attempts-1), capped at max, then jittered by a factor in [0.8, 1.2] chosen by
// `jitter` in [0, 1) (so tests are deterministic), and never below one second.
std::chrono::seconds retry_delay(const retry_policy& policy, std::uint32_t attempts, double jitter);

}  // namespace missive
