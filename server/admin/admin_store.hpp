// `missived store copy --to URL`: moves the data directory's SQLite store (queue, maildrops,
// users, history) into an empty PostgreSQL database, then says what it copied.
#pragma once

#include <string>

namespace missive {

struct server_config;

// Runs `store copy`; returns the process exit status.
int run_store_copy(const server_config& config, const std::string& url);

}  // namespace missive
