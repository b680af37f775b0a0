// The relay's data directory: see data_directory.hpp.
#include "data_directory.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace missive {

void prepare_data_directory(const std::filesystem::path& dir) {
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) {
    if (errno != ENOENT || ::mkdir(dir.c_str(), 0700) != 0) {
      throw data_directory_error(
          fmt::format("cannot create data directory {}: {}", dir.string(), std::strerror(errno)));
    }
  } else if (!S_ISDIR(info.st_mode)) {
    throw data_directory_error(
        fmt::format("data directory {} is not a directory", dir.string()));
  }
  // access(2) says yes to root whatever the mode bits, and knows nothing of a full or
  // read-only filesystem: only a real file tells.
  auto probe = dir / fmt::format(".write-test.{}", ::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw data_directory_error(
        fmt::format("data directory {} is not writable: {}", dir.string(), std::strerror(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

std::optional<std::uint64_t> free_space(const std::filesystem::path& dir) {
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
}

std::optional<std::uint64_t> free_space_gauge::available(const std::filesystem::path& dir,
                                                         std::uint64_t needed) {
  auto now = std::chrono::steady_clock::now();
  bool plenty = last_ && *last_ >= needed && *last_ - needed >= headroom;
  if (plenty && now - read_at_ < fresh_for) return last_;
  last_ = free_space(dir);
  read_at_ = now;
  return last_;
}

}  // namespace missive
