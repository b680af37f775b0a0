// The checks of a loaded configuration that look outside the file (can the certificate be
// read, does it match its key, does the run_as user exist, can each DKIM key be loaded),
// shared by `missived check` and the relay's start, so both refuse the same configurations
// with the same words.
#pragma once

#include <string>
#include <vector>

namespace missive {

struct server_config;

// Every problem of `config` that loading could not see, each naming the file, the line and
// the key; empty when the relay can start with it. Binds nothing, opens no store.
std::vector<std::string> check_server_config(const server_config& config);

// Throws config_error with every problem check_server_config finds.
void require_usable_config(const server_config& config);

}  // namespace missive
