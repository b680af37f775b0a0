// Which process holds an outbox claim, and whether it still runs: host name, pid, and the
// process's start time, which tells a live holder from a later process given the same pid.
#pragma once

#include <cstdint>
#include <string>

namespace missive::client {

// A process, named so that it cannot be mistaken for another after pid reuse.
struct process_identity {
  std::string host;
  std::int64_t pid = 0;
  std::int64_t start = 0;  // /proc/PID/stat starttime (clock ticks after boot)
};

// This process.
process_identity this_process();

// Whether the process `who` runs now; only answerable on its own host (`who.host` is this
// host), false otherwise.
bool process_alive(const process_identity& who);

}  // namespace missive::client
