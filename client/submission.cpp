// SMTP submission: see submission.hpp.
#include "submission.hpp"

#include <asio/io_context.hpp>
#include <asio/this_coro.hpp>
#include <fmt/format.h>

#include <iostream>

#include "client_error.hpp"
#include "exit_codes.hpp"
#include "mime_encoding.hpp"
#include "run_sync.hpp"
#include "smtp_client.hpp"

namespace missive::client {

namespace {

// The STARTTLS behaviour the configuration asks for.
smtp_client_options::tls_mode starttls_mode(tls_policy policy) {
  switch (policy) {
    case tls_policy::none: return smtp_client_options::tls_mode::none;
    case tls_policy::required: return smtp_client_options::tls_mode::required;
    case tls_policy::starttls: break;
  }
  return smtp_client_options::tls_mode::opportunistic;
}

// The exit status for a refusal: 4xx is "try later", 5xx "will not".
int status_of(const smtp_reply& reply) {
  return reply.code / 100 == 4 ? exit_code::temp_failure : exit_code::unavailable;
}

// One line of reply text, for a message to the user.
std::string one_line(const smtp_reply& reply) {
  std::string text = reply.text;
  for (auto& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return fmt::format("{} {}", reply.code, text);
}

// "Ok: queued as ID" -> "ID".
std::string queue_id(const smtp_reply& reply) {
  auto pos = reply.text.find("queued as ");
  if (pos == std::string::npos) return reply.text;
  std::string id = reply.text.substr(pos + 10);
  auto end = id.find_first_of(" \r\n");
  return id.substr(0, end);
}

// What the whole submission produced: the queue id, or refusals to report.
struct outcome {
  std::string queue_id;
  std::vector<std::string> refused;  // "address: reply"
  int status = exit_code::ok;
  std::string failure;               // set when nothing was queued
};

asio::awaitable<outcome> run_submission(const client_config& config, const submission& message,
                                        const std::optional<std::string>& password) {
  smtp_client_options options;
  options.helo_name = host_name();
  options.connect_timeout = std::chrono::seconds(15);
  options.command_timeout = std::chrono::seconds(120);
  options.starttls = starttls_mode(config.tls);
  options.verify = config.verify;
  options.ca_file = config.ca_file;
  smtp_client client(co_await asio::this_coro::executor, options);
  auto greeting = co_await client.connect(config.server, config.smtp_port);
  outcome result;
  if (greeting.code / 100 != 2) {
    result.status = status_of(greeting);
    result.failure = fmt::format("the mail server at {} refused the connection: {}",
                                 client.peer(), one_line(greeting));
    co_await client.quit();
    co_return result;
  }
  auto hello = co_await client.hello();
  if (hello.code / 100 != 2) {
    result.status = status_of(hello);
    result.failure = fmt::format("the mail server refused EHLO: {}", one_line(hello));
    co_await client.quit();
    co_return result;
  }
  // AUTH only when we have a user and the server offers it: a relay without AUTH (the
  // loopback-trusted default of missived) takes the message as it is.
  if (!config.user.empty() && !client.extensions().auth.empty()) {
    if (!password) {
      throw client_error(exit_code::config,
                         "the server asks for a password: set MISSIVE_PASSWORD or password_command");
    }
    auto auth = co_await client.authenticate(config.user, *password);
    if (auth.code != 235) {
      result.status = auth.code / 100 == 4 ? exit_code::temp_failure : exit_code::no_permission;
      result.failure = auth.code / 100 == 4
                           ? fmt::format("the mail server could not log in {} now: {}", config.user, one_line(auth))
                           : fmt::format("the mail server refused the user name or password for {}", config.user);
      co_await client.quit();
      co_return result;
    }
  }
  smtp_envelope envelope;
  envelope.sender = message.sender;
  envelope.recipients = message.recipients;
  envelope.eight_bit = !mime::is_ascii(message.content);
  envelope.smtputf8 = !mime::is_ascii(message.sender);
  for (const auto& r : message.recipients) envelope.smtputf8 = envelope.smtputf8 || !mime::is_ascii(r);
  auto sent = co_await client.send(envelope, message.content);
  co_await client.quit();

  if (sent.mail.code / 100 != 2) {
    result.status = status_of(sent.mail);
    result.failure = fmt::format("the mail server refused the sender {}: {}", message.sender, one_line(sent.mail));
    co_return result;
  }
  int refused_status = exit_code::ok;
  for (std::size_t i = 0; i < sent.recipients.size() && i < message.recipients.size(); ++i) {
    if (sent.recipients[i].code / 100 != 2) {
      result.refused.push_back(fmt::format("{}: {}", message.recipients[i], one_line(sent.recipients[i])));
      if (refused_status != exit_code::unavailable) refused_status = status_of(sent.recipients[i]);
    }
  }
  if (!sent.data_end) {
    const smtp_reply& why = sent.data_command ? *sent.data_command : sent.mail;
    result.status = refused_status != exit_code::ok ? refused_status : status_of(why);
    result.failure = result.refused.size() == message.recipients.size()
                         ? "the mail server refused every recipient"
                         : fmt::format("the mail server refused the message: {}", one_line(why));
    co_return result;
  }
  if (sent.data_end->code / 100 != 2) {
    result.status = status_of(*sent.data_end);
    result.failure = fmt::format("the mail server refused the message: {}", one_line(*sent.data_end));
    co_return result;
  }
  result.queue_id = queue_id(*sent.data_end);
  result.status = refused_status;
  co_return result;
}

}  // namespace

std::string submit(const client_config& config, const submission& message) {
  // The password is only looked for when there is a user to log in as.
  std::optional<std::string> password;
  if (!config.user.empty()) password = resolve_password(config);
  asio::io_context context;
  outcome result;
  try {
    result = run_sync(context, run_submission(config, message, password));
  } catch (const tls_error& e) {
    throw client_error(exit_code::config, fmt::format("cannot use TLS as configured: {}", e.what()));
  } catch (const smtp_tls_error& e) {
    // Not a temporary failure: the server and the configuration disagree about TLS.
    throw client_error(exit_code::unavailable,
                       fmt::format("cannot send securely to the mail server: {}", e.what()));
  } catch (const smtp_client_error& e) {
    throw client_error(exit_code::temp_failure,
                       fmt::format("cannot reach the mail server at {}:{} ({}); try again later",
                                   config.server, config.smtp_port, e.what()));
  }
  for (const auto& line : result.refused) std::cerr << "missive: recipient refused: " << line << "\n";
  if (!result.failure.empty()) throw client_error(result.status, result.failure);
  if (result.status != exit_code::ok) {
    std::cout << "queued as " << result.queue_id << " (for the other recipients)\n";
    throw client_error(result.status, "the message was not sent to every recipient");
  }
  return result.queue_id;
}

}  // namespace missive::client
