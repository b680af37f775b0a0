// Store administration: see admin_store.hpp.
#include "admin_store.hpp"

#include <fmt/format.h>

#include <iostream>

#include "exit_codes.hpp"
#include "server_config.hpp"
#include "store_copy.hpp"
#include "terminal_progress.hpp"

namespace missive {

int run_store_copy(const server_config& config, const std::string& url) {
  copy_counts counts;
  {
    terminal_progress line;
    copy_progress_callback show;
    if (line.shown()) {
      show = [&line](const copy_progress& p) {
        line.update(fmt::format("copying {}", p.table), p.done, p.total);
      };
    }
    counts = copy_to_postgresql(config.database_path(), url, show);
  }
  // The URL is not echoed: it may carry a password.
  std::cout << fmt::format(
      "copied {} users, {} messages, {} recipients, {} history events and {} alias targets "
      "from {} to PostgreSQL\n",
      counts.users, counts.messages, counts.recipients, counts.events, counts.aliases,
      config.database_path().string());
  return exit_code::ok;
}

}  // namespace missive
