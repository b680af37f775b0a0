// One POP3 poll (RFC 1939): log in, list UIDs, send the pending local deletions, download
// what the local store lacks, each message committed on its own, and QUIT.
#pragma once

#include <asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client_config.hpp"
#include "local_store.hpp"

namespace missive::client {

// A message a poll stored.
struct new_message {
  std::int64_t id = 0;
  std::string from;
  std::string subject;
};

// What a poll did.
struct poll_result {
  std::vector<new_message> stored;
  std::size_t deleted_on_server = 0;
};

// Told how many of the messages a poll downloads are stored: before the first (0 of
// total, when there is any) and after each.
using download_progress = std::function<void(std::size_t done, std::size_t total)>;

// Polls once. `delete_fetched`: also DELE every message the store holds (fetched now or
// before). Throws pop3_client_error (server unreachable or broken) and pop3_login_error.
asio::awaitable<poll_result> poll_mailbox(const client_config& config, const std::string& password,
                                          local_store& store, const bool& delete_fetched,
                                          const download_progress& progress = {});

// Runs one poll to completion, mapping failures to client_error (69 TLS not to be had as
// configured, 75, 77, 78).
poll_result poll_once(const client_config& config, local_store& store, bool delete_fetched,
                      const download_progress& progress = {});

// The password for POP3, which always needs one: client_error 78 when there is none.
std::string require_password(const client_config& config);

// Maps a poll failure to the client_error the user sees; rethrows anything else.
[[noreturn]] void rethrow_poll_failure(const client_config& config, std::exception_ptr error);

}  // namespace missive::client
