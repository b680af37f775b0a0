// The shape of the queue, as Postfix's qshape prints it: recipients still to deliver,
// counted by their domain and by the age of their message, in buckets whose bounds double
// (5, 10, 20, ... 1280 minutes, then older). Pure: the messages and the time come in.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "queue_types.hpp"

namespace missive {

// The upper bounds of the age buckets in minutes; a last bucket holds everything older.
inline constexpr std::array<std::int64_t, 9> queue_shape_bounds{5, 10, 20, 40, 80, 160, 320, 640, 1280};
inline constexpr std::size_t queue_shape_buckets = queue_shape_bounds.size() + 1;

// Counts of waiting recipients in each age bucket, and their sum.
struct shape_row {
  std::string domain;  // "" for the total row
  std::int64_t total = 0;
  std::array<std::int64_t, queue_shape_buckets> counts{};
};

// The whole table: the total row, then one row per domain, most recipients first (then by
// name).
struct queue_shape {
  shape_row total;
  std::vector<shape_row> domains;
};

// The bucket of a message `age_seconds` old: the first whose bound it is below.
std::size_t age_bucket(std::int64_t age_seconds);

// Whether a recipient in `state` still waits for delivery (queued, deferred or sending).
bool is_waiting(const std::string& state);

// The shape of `messages` at `now` (unix seconds). A recipient's domain is the part after
// its last '@', lowercased.
queue_shape shape_of(const std::vector<message_summary>& messages, std::int64_t now);

// "0-5m", "5-10m", ..., "1280m+": the label of each bucket.
std::string bucket_label(std::size_t bucket);

}  // namespace missive
