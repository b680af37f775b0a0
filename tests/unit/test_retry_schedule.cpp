// Unit tests for the retry backoff (exponential, capped, jittered).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "retry_schedule.hpp"

using namespace std::chrono_literals;

TEST_CASE("retry_delay: doubles from initial, capped at max (jitter 0.5 is no jitter)") {
  const missive::retry_policy policy{300s, 3600s, 5 * 86400s};
  struct step {
    std::uint32_t attempts;
    std::chrono::seconds delay;
  };
  const std::vector<step> table = {
      {1, 300s},   {2, 600s},   {3, 1200s},  {4, 2400s},  {5, 3600s},
      {6, 3600s},  {7, 3600s},  {8, 3600s},  {9, 3600s},  {10, 3600s},
  };
  for (const auto& s : table) {
    INFO("attempts: ", s.attempts);
    CHECK(missive::retry_delay(policy, s.attempts, 0.5) == s.delay);
  }
}

TEST_CASE("retry_delay: a cap that is not a power-of-two multiple of initial") {
  const missive::retry_policy policy{1s, 10s, 60s};
  CHECK(missive::retry_delay(policy, 1, 0.5) == 1s);
  CHECK(missive::retry_delay(policy, 2, 0.5) == 2s);
  CHECK(missive::retry_delay(policy, 3, 0.5) == 4s);
  CHECK(missive::retry_delay(policy, 4, 0.5) == 8s);
  CHECK(missive::retry_delay(policy, 5, 0.5) == 10s);
}

TEST_CASE("retry_delay: jitter spans 0.8 to 1.2 of the delay") {
  const missive::retry_policy policy{300s, 3600s, 5 * 86400s};
  CHECK(missive::retry_delay(policy, 1, 0.0) == 240s);
  CHECK(missive::retry_delay(policy, 1, 0.999) == 360s);  // 300 * 1.1996, rounded
  CHECK(missive::retry_delay(policy, 10, 0.0) == 2880s);
  CHECK(missive::retry_delay(policy, 10, 0.999) == 4319s);  // 3600 * 1.1996 = 4318.56
  // Jitter outside [0, 1) is clamped, never a negative or runaway delay.
  CHECK(missive::retry_delay(policy, 1, -5.0) == 240s);
  CHECK(missive::retry_delay(policy, 1, 7.0) == 360s);
}

TEST_CASE("retry_delay: huge attempt counts do not overflow") {
  const missive::retry_policy policy{300s, 3600s, 5 * 86400s};
  CHECK(missive::retry_delay(policy, 64, 0.5) == 3600s);
  CHECK(missive::retry_delay(policy, 1000, 0.5) == 3600s);
  CHECK(missive::retry_delay(policy, UINT32_MAX, 0.5) == 3600s);
  // A cap near the limit of the type: the doubling saturates, the jitter does not wrap.
  const missive::retry_policy huge{1s, std::chrono::seconds::max(), 5 * 86400s};
  auto delay = missive::retry_delay(huge, 1000, 0.999);
  CHECK(delay > 1'000'000'000s);
  CHECK(missive::retry_delay(huge, 1000, 0.0) > 1'000'000'000s);
}

TEST_CASE("retry_delay: never below one second") {
  CHECK(missive::retry_delay({0s, 3600s, 60s}, 1, 0.0) == 1s);
  CHECK(missive::retry_delay({0s, 3600s, 60s}, 1000, 0.0) == 1s);
  CHECK(missive::retry_delay({1s, 3600s, 60s}, 1, 0.0) == 1s);  // 0.8 s rounds to 1
  CHECK(missive::retry_delay({1s, 1s, 60s}, 5, 0.0) == 1s);
  CHECK(missive::retry_delay({5s, 0s, 60s}, 1, 0.5) == 1s);  // a zero cap
  // Attempt 0 is taken as the first attempt.
  CHECK(missive::retry_delay({300s, 3600s, 60s}, 0, 0.5) == 300s);
}
