// The time as the client's store records it: whole seconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace missive::client {

inline std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace missive::client
