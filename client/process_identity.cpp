// Process identity: see process_identity.hpp.
#include "process_identity.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "client_config.hpp"

namespace missive::client {

namespace {

// Field 22 of /proc/PID/stat (proc(5)), counted after the command name's closing ')',
// which may itself hold spaces and parentheses; 0 when the process does not exist.
std::int64_t start_time_of(std::int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return 0;
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  // After ')' come field 3 (state) onwards: starttime is the 20th of them.
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return 0;
  }
  try {
    return std::stoll(field);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

process_identity this_process() {
  const std::int64_t pid = ::getpid();
  return {host_name(), pid, start_time_of(pid)};
}

bool process_alive(const process_identity& who) {
  if (who.host != host_name() || who.pid <= 0) return false;
  const std::int64_t start = start_time_of(who.pid);
  return start != 0 && start == who.start;
}

}  // namespace missive::client
