// The running relay's process id in its data directory, so admin commands on the same data
// directory can wake it (SIGUSR1: the queue changed, look again).
#pragma once

#include <filesystem>
#include <optional>
#include <sys/types.h>

namespace missive {

// Writes the pid file on construction and removes it on destruction.
class pid_file {
 public:
  explicit pid_file(std::filesystem::path path);
  pid_file(const pid_file&) = delete;
  pid_file& operator=(const pid_file&) = delete;
  ~pid_file();

 private:
  std::filesystem::path path_;
};

// The pid of the relay running on `data_dir`, if one is (the process exists).
std::optional<pid_t> running_relay(const std::filesystem::path& data_dir);

}  // namespace missive
