// The store a configuration names: see open_store.hpp.
#include "open_store.hpp"

#include "server_config.hpp"
#include "sqlite_store.hpp"

namespace missive {

std::unique_ptr<mail_store> open_store(const server_config& config, store_purpose purpose) {
  queue_policy policy{config.hostname, config.domains,
                      {config.queue.retry_initial, config.queue.retry_max, config.queue.max_lifetime}};
  auto opening = purpose == store_purpose::relay ? sqlite_store::opening::relay
                                                 : sqlite_store::opening::admin;
  return std::make_unique<sqlite_store>(config.database_path(), std::move(policy), opening);
}

}  // namespace missive
