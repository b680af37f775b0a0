// The store a configuration names: see open_store.hpp.
#include "open_store.hpp"

#include "pg_store.hpp"
#include "server_config.hpp"
#include "sqlite_store.hpp"

namespace missive {

std::unique_ptr<mail_store> open_store(const server_config& config, store_purpose purpose) {
  queue_policy policy{config.hostname, config.domains,
                      {config.queue.retry_initial, config.queue.retry_max, config.queue.max_lifetime,
                       config.queue.delay_warning}};
  if (!config.store.url.empty()) {
    pg_store_settings settings{config.store.url,
                               config.store.node.empty() ? config.hostname : config.store.node,
                               config.store.lease, config.data_dir};
    return std::make_unique<pg_store>(std::move(settings), std::move(policy),
                                      purpose == store_purpose::relay ? pg_store::opening::relay
                                                                      : pg_store::opening::admin);
  }
  auto opening = purpose == store_purpose::relay ? sqlite_store::opening::relay
                                                 : sqlite_store::opening::admin;
  return std::make_unique<sqlite_store>(config.database_path(), std::move(policy), opening);
}

}  // namespace missive
