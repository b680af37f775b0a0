// admin/: the `missived user` and `missived queue` commands, printing what the store
// answers.
//
// `missived queue list|show|summary|flush|retry|delete`: queue administration on the
// database file, while the relay runs (it is woken with SIGUSR1 when recipients are made
// due). list, show and summary print text, or with --json one JSON document (missived(8)).
#pragma once

#include <string>

namespace missive {

struct server_config;

// The queue subcommand to run and its argument.
struct queue_command {
  std::string action;  // "list", "show", "summary", "flush", "retry" or "delete"
  std::string queue_id;
  bool json = false;   // list, show, summary: one JSON document instead of text
};

// Runs a queue subcommand; returns the process exit status.
int run_queue_command(const server_config& config, const queue_command& command);

}  // namespace missive
