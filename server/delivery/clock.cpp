// The scheduler's clock and chance: see clock.hpp.
#include "clock.hpp"

#include <random>

namespace missive {

double random_jitter() {
  thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  return jitter(random);
}

}  // namespace missive
