// Saving attachments: see attachment_saving.hpp.
#include "attachment_saving.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "client_error.hpp"
#include "exit_codes.hpp"
#include "safe_file_name.hpp"

namespace missive::client {

namespace {

// How many "name (n).ext" are tried before giving up.
constexpr std::size_t max_alternatives = 1000;

// Creates `path` only if nothing is there (O_EXCL: never overwrites, never follows a
// symbolic link planted under the name); -1 with errno EEXIST when something is.
int create_new(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

void write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw client_error(exit_code::cant_create, fmt::format("cannot write {}: {}", path, std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    throw client_error(exit_code::cant_create, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
}

}  // namespace

std::vector<std::string> save_attachments(const std::vector<mime::attachment_info>& attachments,
                                          const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw client_error(exit_code::cant_create, fmt::format("cannot create {}: {}", dir, ec.message()));
  std::vector<std::string> written;
  for (std::size_t i = 0; i < attachments.size(); ++i) {
    const std::string name = safe_file_name(attachments[i].filename, i + 1);
    std::string path;
    int fd = -1;
    for (std::size_t n = 0; n <= max_alternatives && fd < 0; ++n) {
      path = (std::filesystem::path(dir) / (n == 0 ? name : numbered_file_name(name, n))).string();
      fd = create_new(path);
      if (fd < 0 && errno != EEXIST) {
        throw client_error(exit_code::cant_create, fmt::format("cannot create {}: {}", path, std::strerror(errno)));
      }
    }
    if (fd < 0) {
      throw client_error(exit_code::cant_create, fmt::format("cannot save {}: too many files of that name in {}", name, dir));
    }
    write_all(fd, attachments[i].data, path);
    written.push_back(path);
  }
  return written;
}

}  // namespace missive::client
