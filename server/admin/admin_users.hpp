// `missived user add|del|passwd|list`: user administration on the database file.
#pragma once

#include <string>

namespace missive {

struct server_config;

// The user subcommand to run and its arguments.
struct user_command {
  std::string action;  // "add", "del", "passwd" or "list"
  std::string address;
  bool password_stdin = false;
  bool json = false;  // list: one JSON document, {"users": [...]}
};

// Runs a user subcommand; returns the process exit status.
int run_user_command(const server_config& config, const user_command& command);

}  // namespace missive
