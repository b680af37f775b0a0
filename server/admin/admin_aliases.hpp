// `missived alias add|del|list`: aliases in the store, beside the users.
#pragma once

#include <string>
#include <vector>

namespace missive {

struct server_config;

// The alias subcommand to run and its arguments.
struct alias_command {
  std::string action;  // "add", "del" or "list"
  std::string source;  // an address, or "@domain" for a catch-all
  std::vector<std::string> targets;
  bool json = false;  // list: one JSON document, {"aliases": [{"source": ..., "targets": [...]}]}
};

// Runs an alias subcommand; returns the process exit status.
int run_alias_command(const server_config& config, const alias_command& command);

}  // namespace missive
