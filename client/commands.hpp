// The `missive` subcommands; each returns the process exit status or throws client_error.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "client_config.hpp"

namespace missive::client {

// `missive send`'s flags.
struct send_options {
  std::string from;
  std::vector<std::string> to, cc, bcc;
  std::string subject;
  std::vector<std::string> attach;
};

// `missive sendmail`'s arguments (sendmail-compatible).
struct sendmail_options {
  bool extract_recipients = false;  // -t
  bool ignore_dots = false;         // -i, -oi
  std::string sender;               // -f
  std::vector<std::string> recipients;
  bool help = false;                // --help: print the usage, send nothing
};

// Composes a message from the flags and the body on stdin and submits it.
int run_send(const client_config& config, const send_options& options);
// Submits the RFC 5322 message on stdin as /usr/sbin/sendmail would.
int run_sendmail(const client_config& config, const sendmail_options& options);
// One poll; prints "N new messages" ("1 new message").
int run_fetch(const client_config& config, bool delete_fetched);
// The inbox table (after a poll unless `offline`).
int run_inbox(const client_config& config, bool offline);
// One message: summary and text, or the stored bytes with `raw`.
int run_read(const client_config& config, std::int64_t id, bool raw);
// Deletes a message locally now and on the server at the next poll.
int run_delete(const client_config& config, std::int64_t id);
// Polls every `every`, printing new messages, until SIGINT or SIGTERM.
int run_watch(const client_config& config, std::chrono::seconds every);

// Parses `missive sendmail`'s arguments (argv after "sendmail"); throws client_error 64.
sendmail_options parse_sendmail_arguments(const std::vector<std::string>& args,
                                          config_overrides& overrides);
// The usage text of `missive sendmail` (`program`: how it was invoked), for --help.
std::string sendmail_usage(const std::string& program);

// A fresh Message-ID "<random.time@domain>" without brackets, for `domain`.
std::string make_message_id(const std::string& domain);
// Reads all of stdin as bytes.
std::string read_stdin();

}  // namespace missive::client
