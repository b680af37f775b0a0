// The queue's shape by domain and age: see queue_shape.hpp.
#include "queue_shape.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "ascii.hpp"

namespace missive {

std::size_t age_bucket(std::int64_t age_seconds) {
  for (std::size_t i = 0; i < queue_shape_bounds.size(); ++i) {
    if (age_seconds < queue_shape_bounds[i] * 60) return i;
  }
  return queue_shape_bounds.size();
}

bool is_waiting(const std::string& state) {
  return state == "queued" || state == "deferred" || state == "sending";
}

queue_shape shape_of(const std::vector<message_summary>& messages, std::int64_t now) {
  queue_shape shape;
  std::map<std::string, shape_row> rows;
  for (const auto& message : messages) {
    std::size_t bucket = age_bucket(std::max<std::int64_t>(now - message.received_at, 0));
    for (const auto& recipient : message.recipients) {
      if (!is_waiting(recipient.state)) continue;
      auto at = recipient.address.rfind('@');
      std::string domain = lowercase_ascii(
          at == std::string::npos ? recipient.address : recipient.address.substr(at + 1));
      shape_row& row = rows[domain];
      row.domain = domain;
      for (shape_row* counted : {&row, &shape.total}) {
        ++counted->total;
        ++counted->counts[bucket];
      }
    }
  }
  for (auto& [domain, row] : rows) shape.domains.push_back(std::move(row));
  std::stable_sort(shape.domains.begin(), shape.domains.end(),
                   [](const shape_row& a, const shape_row& b) { return a.total > b.total; });
  return shape;
}

std::string bucket_label(std::size_t bucket) {
  if (bucket >= queue_shape_bounds.size()) return fmt::format("{}m+", queue_shape_bounds.back());
  return fmt::format("{}-{}m", bucket == 0 ? 0 : queue_shape_bounds[bucket - 1],
                     queue_shape_bounds[bucket]);
}

}  // namespace missive
