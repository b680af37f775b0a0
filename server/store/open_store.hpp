// The store a configuration names, opened for the relay or for an admin command: PostgreSQL
// when [store] url is set (pg_store.hpp), else the SQLite file in data_dir (sqlite_store.hpp).
#pragma once

#include <memory>

#include "mail_store.hpp"

namespace missive {

struct server_config;

// What the store is opened for: the relay (which takes back what a previous run left in
// flight), or an admin command beside a relay that may be running.
enum class store_purpose { relay, admin };

// Opens (creating if needed) the configured store; throws store_error or
// data_directory_error when it cannot.
std::unique_ptr<mail_store> open_store(const server_config& config, store_purpose purpose);

}  // namespace missive
