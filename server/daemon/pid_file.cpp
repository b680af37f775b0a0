// The relay's pid file: see pid_file.hpp.
#include "pid_file.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>

namespace missive {

pid_file::pid_file(std::filesystem::path path) : path_(std::move(path)) {
  std::ofstream(path_) << ::getpid() << "\n";
}

pid_file::~pid_file() {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

std::optional<pid_t> running_relay(const std::filesystem::path& data_dir) {
  std::ifstream in(data_dir / "missived.pid");
  pid_t pid = 0;
  // A stale file (the relay was killed) names a process that no longer exists.
  if (!(in >> pid) || pid <= 0 || ::kill(pid, 0) != 0) return std::nullopt;
  return pid;
}

}  // namespace missive
