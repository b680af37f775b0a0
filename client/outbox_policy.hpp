// When the outbox tries a message again, and whether a claim on it still holds. Pure: the
// clock and the liveness of the holder are given.
#pragma once

#include <chrono>
#include <cstdint>

namespace missive::client {

// The longest pause between two tries of one queued message.
inline constexpr std::chrono::seconds max_outbox_backoff{3600};

// A claim by a process on another host cannot be checked for life: it holds this long after
// it was taken (longer than any one submission lasts with smtp_client's timeouts).
inline constexpr std::chrono::seconds foreign_claim_lease{3600};

// When `watch` next tries a message that failed `attempts` times, the last at
// `last_attempt_at` (unix seconds): `pace` (watch's --every) doubled for each failure after
// the first, at most max_outbox_backoff (but never less than `pace`).
std::int64_t outbox_next_attempt(std::int64_t last_attempt_at, std::int64_t attempts,
                                 std::chrono::seconds pace);

// What is known of a claim on a queued message.
struct claim_state {
  bool claimed = false;         // someone claimed it and has not released it
  bool holder_is_local = false; // the holder ran on this host, so its life can be checked
  bool holder_alive = false;    // (local holders only) it still runs
  std::int64_t claimed_at = 0;  // unix seconds
};

// Whether another client may take the message now: it is unclaimed, or its holder died
// (a crash between the relay's 250 and the record of it: at-least-once, as SMTP is).
bool claim_is_free(const claim_state& claim, std::int64_t now);

}  // namespace missive::client
