// Dropping root: see privileges.hpp.
#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <stdexcept>
#include <system_error>

#include "log.hpp"
#include "server_config.hpp"

namespace missive {

std::optional<run_as_user> user_to_run_as(const server_config& config) {
  if (::geteuid() != 0) return std::nullopt;
  std::string name = config.run_as.value_or("missive");
  const passwd* entry = ::getpwnam(name.c_str());
  if (!entry) {
    if (config.run_as) {
      throw config_error(fmt::format("{}: there is no user '{}'", config.source.where("run_as"), name));
    }
    log::warning("missived", "event=running_as_root reason=\"no user '{}'; create it or set run_as\"", name);
    return std::nullopt;
  }
  if (entry->pw_uid == 0) {
    throw config_error(fmt::format("{}: '{}' is root", config.source.where("run_as"), name));
  }
  return run_as_user{name, entry->pw_uid, entry->pw_gid};
}

void hand_over(const std::filesystem::path& data_dir, const run_as_user& user) {
  auto give = [&](const std::filesystem::path& path) {
    if (::lchown(path.c_str(), user.uid, user.gid) != 0) {
      throw std::system_error(errno, std::generic_category(),
                              fmt::format("cannot give {} to {}", path.string(), user.name));
    }
  };
  give(data_dir);
  // The queue and mailboxes are the user's alone.
  std::filesystem::permissions(data_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data_dir)) give(entry.path());
}

void drop_privileges(const run_as_user& user) {
  if (::setgroups(0, nullptr) != 0 || ::setgid(user.gid) != 0 || ::setuid(user.uid) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            fmt::format("cannot become user {}", user.name));
  }
  // Paranoia: root must be gone for good.
  if (::setuid(0) == 0) throw std::runtime_error("root privileges could be regained");
  log::info("missived", "event=privileges_dropped user={} uid={}", user.name, user.uid);
}

}  // namespace missive
