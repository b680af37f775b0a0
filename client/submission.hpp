// Submitting a message over SMTP (RFC 5321, 6409): EHLO, AUTH when a user is configured and
// the server offers it, then the transaction (pipelined when offered).
#pragma once

#include <string>
#include <vector>

#include "client_config.hpp"
#include "submission_verdict.hpp"

namespace missive::client {

// One message to submit: envelope and content (CRLF line endings).
struct submission {
  std::string sender;
  std::vector<std::string> recipients;
  std::string content;
};

// Tries once to submit the message, all or nothing (submission_verdict.hpp); the verdict
// has the queue id from the final 250 reply (or its text when it names none). Its status:
// 65 message refused (5xx at MAIL, DATA or after it), 67 a recipient refused (5xx), 69
// server refuses service (5xx greeting or EHLO) or TLS not to be had as configured, 75
// server unreachable or any 4xx (also at STARTTLS or AUTH: `server_wide` tells a failure
// before the transaction from one of this message), 77 bad credentials, 78 TLS settings unusable. Throws client_error 78
// when the server asks for a password and none is configured.
submission_verdict attempt_submission(const client_config& config, const submission& message);

}  // namespace missive::client
