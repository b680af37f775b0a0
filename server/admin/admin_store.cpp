// Store administration: see admin_store.hpp.
#include "admin_store.hpp"

#include <fmt/format.h>

#include <iostream>

#include "exit_codes.hpp"
#include "server_config.hpp"
#include "store_copy.hpp"

namespace missive {

int run_store_copy(const server_config& config, const std::string& url) {
  auto counts = copy_to_postgresql(config.database_path(), url);
  // The URL is not echoed: it may carry a password.
  std::cout << fmt::format(
      "copied {} users, {} messages, {} recipients and {} history events from {} to PostgreSQL\n",
      counts.users, counts.messages, counts.recipients, counts.events,
      config.database_path().string());
  return exit_code::ok;
}

}  // namespace missive
