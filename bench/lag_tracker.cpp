// End-to-end lag bookkeeping: see lag_tracker.hpp.
#include "lag_tracker.hpp"

#include <algorithm>

namespace missive::bench {

void lag_tracker::accepted(const std::string& queue_id, time_point at) {
  times& t = by_id_[queue_id];
  if (t.accepted) return;  // a server that reuses ids: the first acceptance counts
  t.accepted = at;
  ++accepted_;
  if (t.seen) ++matched_;
}

void lag_tracker::seen(const std::string& queue_id, time_point at) {
  times& t = by_id_[queue_id];
  if (t.seen) return;
  t.seen = at;
  ++seen_;
  if (t.accepted) ++matched_;
}

std::vector<double> lag_tracker::lags_ms() const {
  std::vector<std::pair<time_point, double>> ordered;
  ordered.reserve(matched_);
  for (const auto& [id, t] : by_id_) {
    if (!t.accepted || !t.seen) continue;
    auto lag = std::chrono::duration<double, std::milli>(*t.seen - *t.accepted).count();
    ordered.emplace_back(*t.accepted, std::max(0.0, lag));
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<double> lags;
  lags.reserve(ordered.size());
  for (const auto& entry : ordered) lags.push_back(entry.second);
  return lags;
}

}  // namespace missive::bench
