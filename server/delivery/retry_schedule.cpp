// Retry backoff: see retry_schedule.hpp.
#include "retry_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace missive {
namespace {

// Doubling more often than this cannot matter: 2^63 seconds overflows any cap.
constexpr std::uint32_t max_doublings = 63;

// The jitter factor range: +-20% spreads retries of many recipients deferred together.
constexpr double jitter_low = 0.8;
constexpr double jitter_span = 0.4;

}  // namespace

std::chrono::seconds retry_delay(const retry_policy& policy, std::uint32_t attempts, double jitter) {
  const std::int64_t cap = std::max<std::int64_t>(policy.max.count(), 0);
  std::int64_t delay = std::clamp<std::int64_t>(policy.initial.count(), 0, cap);
  // Bounded loop: no shift wider than the type and no product beyond the cap.
  const std::uint32_t doublings = std::min(attempts > 0 ? attempts - 1 : 0, max_doublings);
  for (std::uint32_t i = 0; i < doublings && delay < cap; ++i)
    delay = delay > cap / 2 ? cap : delay * 2;

  if (!(jitter >= 0.0)) jitter = 0.0;  // also catches NaN
  jitter = std::min(jitter, 1.0);
  const double jittered = std::round(static_cast<double>(delay) * (jitter_low + jitter_span * jitter));
  // A cap near the int64 limit times 1.2 no longer fits: saturate rather than overflow.
  constexpr double largest = static_cast<double>(std::numeric_limits<std::int64_t>::max() / 2);
  const std::int64_t seconds = jittered >= largest ? static_cast<std::int64_t>(largest)
                                                   : static_cast<std::int64_t>(jittered);
  return std::chrono::seconds{std::max<std::int64_t>(seconds, 1)};
}

}  // namespace missive
