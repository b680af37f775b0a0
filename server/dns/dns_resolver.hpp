// DNS for the relay through libunbound: asynchronous, driven from the event loop through the
// library's file descriptor, with its cache, and DNSSEC-capable. Answers come back as whole
// wire-format responses, for the codecs (mx_lookup's parser and those to come) to read
// without I/O. One resolver per event loop; used from that loop's thread only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns_source.hpp"
#include "server_config.hpp"

namespace missive {

class dns_resolver final : public dns_source {
 public:
  // Asks `settings.resolver` when set, else the servers of /etc/resolv.conf (and /etc/hosts);
  // throws std::runtime_error when libunbound cannot be set up so.
  dns_resolver(asio::any_io_executor executor, const dns_settings& settings);
  dns_resolver(const dns_resolver&) = delete;
  dns_resolver& operator=(const dns_resolver&) = delete;
  ~dns_resolver();

  // Asks for the records of `type` (class IN) at `name`; a query not answered within the
  // configured timeout is temporary.
  asio::awaitable<dns_answer> query(std::string name, std::uint16_t type) override;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace missive
