// Running as an unprivileged user: started as root, missived binds its ports and reads its
// TLS key as root, hands its data directory to the run_as user, and becomes that user.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace missive {

struct server_config;

// The user to become.
struct run_as_user {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The user to drop to: nullopt when not running as root, or when the default user
// ("missive") does not exist (a warning is logged). A configured run_as that does not exist
// is a config_error.
std::optional<run_as_user> user_to_run_as(const server_config& config);

// Gives the data directory and everything in it to `user` (still root at this point).
void hand_over(const std::filesystem::path& data_dir, const run_as_user& user);

// Becomes `user` for good: supplementary groups, group, then user; throws if any step fails
// or root could be regained.
void drop_privileges(const run_as_user& user);

}  // namespace missive
