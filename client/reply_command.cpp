// `missive reply` and `missive forward`: a message composed from one in the local store,
// handed over as `send` does (hand_over.hpp: outbox when the relay is away).
#include <fmt/format.h>

#include <iostream>

#include "client_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "hand_over.hpp"
#include "local_store.hpp"
#include "message_headers.hpp"
#include "mime_compose.hpp"
#include "mime_parse.hpp"
#include "reply_headers.hpp"

namespace missive::client {

namespace {

// The message `id` of the local store; client_error 65 when there is none.
stored_message original(local_store& store, std::int64_t id) {
  auto message = store.find(id);
  if (!message) throw client_error(exit_code::data_error, fmt::format("there is no message {}", id));
  return *message;
}

// The sender: --from, else the configured user; client_error 64 when there is neither.
mime::mailbox sender(const client_config& config, const std::string& from) {
  if (from.empty() && config.user.empty()) {
    throw client_error(exit_code::usage, "no sender: give --from or configure user");
  }
  return checked_mailbox(from.empty() ? config.user : from, from.empty() ? "user" : "--from");
}

// Fills date, Message-ID and boundary, composes, and hands the message over.
int compose_and_hand_over(const client_config& config, mime::outgoing_message& message,
                          bool no_queue) {
  message.date = std::chrono::system_clock::now();
  auto at = message.from.address.rfind('@');
  message.message_id = make_message_id(message.from.address.substr(at + 1));
  message.boundary = make_boundary();
  submission envelope;
  envelope.sender = message.from.address;
  for (const auto& box : message.to) envelope.recipients.push_back(box.address);
  for (const auto& box : message.cc) envelope.recipients.push_back(box.address);
  envelope.content = mime::compose_message(message);
  auto result = hand_over(config, envelope, no_queue);
  if (result.queue_id) std::cout << "queued as " << *result.queue_id << "\n";
  return exit_code::ok;
}

}  // namespace

int run_reply(const client_config& config, const reply_options& options) {
  local_store store(config.data_dir);
  auto parent = original(store, options.id);
  mime::outgoing_message message;
  message.from = sender(config, options.from);
  auto fields = mime::parse_header_fields(header_section(parent.raw));
  auto reply = compose_reply_fields(fields, message.from.address, options.all);
  if (reply.to.empty()) {
    throw client_error(exit_code::data_error,
                       fmt::format("message {} names nobody to reply to", options.id));
  }
  for (const auto& a : reply.to) message.to.push_back({"", a});
  for (const auto& a : reply.cc) message.cc.push_back({"", a});
  message.subject = reply.subject;
  if (!reply.in_reply_to.empty()) message.extra_fields.push_back({"In-Reply-To", reply.in_reply_to});
  if (!reply.references.empty()) message.extra_fields.push_back({"References", reply.references});
  message.body = read_stdin();
  if (options.quote) {
    auto view = mime::parse_message(parent.raw);
    if (!message.body.empty() && !message.body.ends_with("\n")) message.body += "\n";
    message.body += fmt::format("\nOn {}, {} wrote:\n", view.date, view.from);
    message.body += quote_text(view.text);
  }
  return compose_and_hand_over(config, message, options.no_queue);
}

int run_forward(const client_config& config, const forward_options& options) {
  if (options.to.empty()) throw client_error(exit_code::usage, "forward: give --to");
  local_store store(config.data_dir);
  auto parent = original(store, options.id);
  mime::outgoing_message message;
  message.from = sender(config, options.from);
  for (const auto& text : options.to) message.to.push_back(checked_mailbox(text, "--to"));
  auto view = mime::parse_message(parent.raw);
  message.subject = forward_subject(view.subject);
  message.body = read_stdin();
  // RFC 2046 5.2.1: the whole original, headers and all, as a message/rfc822 part.
  message.attachments.push_back({"", "message/rfc822", parent.raw});
  return compose_and_hand_over(config, message, options.no_queue);
}

}  // namespace missive::client
