// `missived srs keygen`: see admin_srs.hpp.
#include "admin_srs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "base64.hpp"
#include "data_directory.hpp"
#include "exit_codes.hpp"
#include "server_config.hpp"
#include "srs_secret.hpp"

namespace missive {

int run_srs_keygen(const server_config& config) {
  prepare_data_directory(config.data_dir);
  std::array<unsigned char, 32> random{};  // 256 bits, the width of the HMAC-SHA256 key
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    std::cerr << "missived: no random bytes from OpenSSL\n";
    return exit_code::software;
  }
  std::string secret = base64_encode(std::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
  auto path = srs_secret_file(config.data_dir);
  // Never over an existing key: addresses made with it would stop working.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << fmt::format("missived: cannot create {}: {}\n", path.string(), std::strerror(errno));
    return exit_code::cant_create;
  }
  std::string line = secret + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                 ::fsync(fd) == 0;
  // Run as root for a relay that runs as the data directory's owner: the key becomes theirs.
  struct stat owner {};
  if (written && ::geteuid() == 0 && ::stat(config.data_dir.c_str(), &owner) == 0 && owner.st_uid != 0 &&
      ::fchown(fd, owner.st_uid, owner.st_gid) != 0) {
    std::cerr << fmt::format("missived: warning: cannot give {} to the data directory's owner\n",
                             path.string());
  }
  ::close(fd);
  if (!written) {
    std::cerr << fmt::format("missived: cannot write {}: {}\n", path.string(), std::strerror(errno));
    ::unlink(path.c_str());
    return exit_code::cant_create;
  }
  std::cout << fmt::format("wrote {}; the relay reads it at start when [srs] secret is not set\n",
                           path.string());
  if (!config.srs.secret.empty()) {
    std::cerr << "missived: note: [srs] secret is set in the configuration and takes precedence\n";
  }
  return exit_code::ok;
}

}  // namespace missive
