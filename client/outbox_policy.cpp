// Outbox retry and claim policy: see outbox_policy.hpp.
#include "outbox_policy.hpp"

#include <algorithm>

namespace missive::client {

std::int64_t outbox_next_attempt(std::int64_t last_attempt_at, std::int64_t attempts,
                                 std::chrono::seconds pace) {
  const std::int64_t base = std::max<std::int64_t>(pace.count(), 1);
  const std::int64_t cap = std::max(base, static_cast<std::int64_t>(max_outbox_backoff.count()));
  std::int64_t delay = base;
  // Doubling stops at the cap, so the loop is bounded and never overflows.
  for (std::int64_t i = 1; i < attempts && delay < cap; ++i) delay *= 2;
  return last_attempt_at + std::min(delay, cap);
}

bool claim_is_free(const claim_state& claim, std::int64_t now) {
  if (!claim.claimed) return true;
  if (claim.holder_is_local) return !claim.holder_alive;
  return now >= claim.claimed_at + foreign_claim_lease.count();
}

}  // namespace missive::client
