// The `missive` subcommands; each returns the process exit status or throws client_error.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client_config.hpp"
#include "local_store.hpp"
#include "mime_compose.hpp"

namespace missive::client {

// `missive send`'s flags.
struct send_options {
  std::string from;
  std::vector<std::string> to, cc, bcc;
  std::string subject;
  std::vector<std::string> attach;
  bool no_queue = false;  // --no-queue: exit 75 instead of keeping the message in the outbox
};

// `missive sendmail`'s arguments (sendmail-compatible).
struct sendmail_options {
  bool extract_recipients = false;  // -t
  bool ignore_dots = false;         // -i, -oi
  std::string sender;               // -f
  std::vector<std::string> recipients;
  bool help = false;                // --help: print the usage, send nothing
  bool no_queue = false;            // --no-queue: exit 75 instead of queueing in the outbox
};

// `missive inbox`'s flags.
struct inbox_options {
  bool offline = false;  // only the local store
  bool threads = false;  // grouped into conversations (thread_grouping.hpp)
  bool json = false;     // one JSON document
};

// `missive search`'s arguments.
struct search_options {
  std::string query;
  bool offline = false;
  bool json = false;
};

// `missive reply`'s arguments.
struct reply_options {
  std::int64_t id = 0;
  bool all = false;    // --all: also the original's other To and Cc recipients
  bool quote = false;  // --quote: the original's text quoted under the body
  std::string from;    // default: the configured user
  bool no_queue = false;
};

// `missive forward`'s arguments.
struct forward_options {
  std::int64_t id = 0;
  std::vector<std::string> to;
  std::string from;    // default: the configured user
  bool no_queue = false;
};

// Composes a message from the flags and the body on stdin and submits it.
int run_send(const client_config& config, const send_options& options);
// Submits the RFC 5322 message on stdin as /usr/sbin/sendmail would.
int run_sendmail(const client_config& config, const sendmail_options& options);
// One poll; prints "N new messages" ("1 new message").
int run_fetch(const client_config& config, bool delete_fetched);
// The inbox table (after a poll unless `offline`), or its threads, or JSON.
int run_inbox(const client_config& config, const inbox_options& options);
// The messages the query finds in the local store (after a poll unless `offline`).
int run_search(const client_config& config, const search_options& options);
// One message: summary and text, or the stored bytes with `raw`; with `save_dir`, its
// attachments saved there instead (attachment_saving.hpp), one path printed per file.
int run_read(const client_config& config, std::int64_t id, bool raw, const std::string& save_dir);
// Replies to a stored message (body on stdin), RFC 5322 3.6.4 fields (reply_headers.hpp).
int run_reply(const client_config& config, const reply_options& options);
// Forwards a stored message as a message/rfc822 attachment (body on stdin).
int run_forward(const client_config& config, const forward_options& options);
// Deletes a message locally now and on the server at the next poll.
int run_delete(const client_config& config, std::int64_t id);
// Polls every `every`, printing new messages, and flushes the outbox with backoff per
// message, until SIGINT or SIGTERM.
int run_watch(const client_config& config, std::chrono::seconds every);
// The outbox table, or one JSON document with `json`.
int run_outbox(const client_config& config, bool json);
// Drops one outbox message.
int run_outbox_delete(const client_config& config, std::int64_t id);
// Sends every queued message now: 0 when none waits afterwards, 75 when some do.
int run_flush(const client_config& config);

// Polls once for `inbox` and `search`; a server that is away is only mentioned on stderr.
void poll_or_say_why(const client_config& config, local_store& store);

// Parses `missive sendmail`'s arguments (argv after "sendmail"); throws client_error 64.
sendmail_options parse_sendmail_arguments(const std::vector<std::string>& args,
                                          config_overrides& overrides);
// The usage text of `missive sendmail` (`program`: how it was invoked), for --help.
std::string sendmail_usage(const std::string& program);

// A fresh Message-ID "<random.time@domain>" without brackets, for `domain`.
std::string make_message_id(const std::string& domain);
// Splits and checks a command-line mailbox ("Name <a@b>" or "a@b"); client_error 65,
// naming `flag`, when the address is not valid.
mime::mailbox checked_mailbox(const std::string& text, std::string_view flag);
// A fresh multipart boundary (mime_compose makes it unique against the content).
std::string make_boundary();
// Reads all of stdin as bytes.
std::string read_stdin();

}  // namespace missive::client
