// Queue ids: short, unique, time-ordered names for accepted messages ("18A9F3C2B1D4E7F0").
#pragma once

#include <string>

namespace missive {

// A new queue id: uppercase hex, microseconds since the epoch then random bits.
std::string make_queue_id();

}  // namespace missive
