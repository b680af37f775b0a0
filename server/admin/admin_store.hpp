// `missived store copy --to URL`: moves the data directory's SQLite store (queue, maildrops,
// users, history) into an empty PostgreSQL database, then says what it copied. On a
// terminal, stderr shows how far it is; in a pipe, nothing but the result is printed.
#pragma once

#include <string>

namespace missive {

struct server_config;

// Runs `store copy`; returns the process exit status.
int run_store_copy(const server_config& config, const std::string& url);

}  // namespace missive
