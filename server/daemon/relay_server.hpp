// daemon/: the running relay and what its parts share: configuration, the data directory,
// listeners and session registry, connection I/O with deadlines, abuse limits, privileges.
//
// The running relay: listeners for SMTP and POP3, the delivery scheduler, and graceful
// shutdown on SIGTERM/SIGINT.
#pragma once

namespace missive {

struct server_config;

// Runs the relay until SIGTERM or SIGINT; returns the process exit status.
int run_relay(const server_config& config);

}  // namespace missive
