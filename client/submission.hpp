// Submitting a message over SMTP (RFC 5321, 6409): EHLO, AUTH when a user is configured and
// the server offers it, then the transaction (pipelined when offered).
#pragma once

#include <string>
#include <vector>

#include "client_config.hpp"

namespace missive::client {

// One message to submit: envelope and content (CRLF line endings).
struct submission {
  std::string sender;
  std::vector<std::string> recipients;
  std::string content;
};

// Submits the message and returns the queue id from the final 250 reply (or its text when
// it names none). Throws client_error: 75 server unreachable or 4xx, 77 bad credentials,
// 69 refused (5xx) or TLS not to be had as configured, 78 password missing or TLS settings
// unusable.
std::string submit(const client_config& config, const submission& message);

}  // namespace missive::client
