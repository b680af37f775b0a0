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
#include "submission_verdict.hpp"

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

// The exit status for a refused greeting or EHLO: 4xx is "try later", 5xx "will not".
int status_of(const smtp_reply& reply) {
  return reply.code / 100 == 4 ? exit_code::temp_failure : exit_code::unavailable;
}

// A verdict that ends the submission before the transaction.
submission_verdict failed(int status, std::string sentence) {
  submission_verdict result;
  result.status = status;
  result.failure = std::move(sentence);
  result.server_wide = true;
  return result;
}

asio::awaitable<submission_verdict> run_submission(const client_config& config,
                                                   const submission& message,
                                                   const std::optional<std::string>& password) {
  smtp_client_options options;
  options.helo_name = host_name();
  options.connect_timeout = std::chrono::seconds(15);
  options.command_timeout = std::chrono::seconds(120);
  options.starttls = starttls_mode(config.tls);
  options.verify = config.verify;
  options.ca_file = config.ca_file;
  options.tls_server_name = config.tls_server_name;
  smtp_client client(co_await asio::this_coro::executor, options);
  auto greeting = co_await client.connect(config.server, config.smtp_port);
  if (greeting.code / 100 != 2) {
    co_await client.quit();
    co_return failed(status_of(greeting),
                     fmt::format("the mail server at {} refused the connection: {}", client.peer(),
                                 quote_reply(greeting)));
  }
  auto hello = co_await client.hello();
  if (hello.code / 100 != 2) {
    co_await client.quit();
    co_return failed(status_of(hello),
                     fmt::format("the mail server refused EHLO: {}", quote_reply(hello)));
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
      co_await client.quit();
      // RFC 4954 6: 454 is a temporary failure; 535 and the other 5xx will not change.
      if (auth.code / 100 == 4) {
        co_return failed(exit_code::temp_failure,
                         fmt::format("the mail server could not log in {} now: {}; try again later",
                                     config.user, quote_reply(auth)));
      }
      co_return failed(exit_code::no_permission,
                       fmt::format("the mail server refused the user name or password for {}: {}",
                                   config.user, quote_reply(auth)));
    }
  }
  smtp_envelope envelope;
  envelope.sender = message.sender;
  envelope.recipients = message.recipients;
  envelope.eight_bit = !mime::is_ascii(message.content);
  envelope.smtputf8 = !mime::is_ascii(message.sender);
  for (const auto& r : message.recipients) envelope.smtputf8 = envelope.smtputf8 || !mime::is_ascii(r);
  // All or nothing (submission_verdict.hpp says why).
  envelope.all_recipients = true;
  auto sent = co_await client.send(envelope, message.content);
  co_await client.quit();
  co_return judge_submission(message.sender, message.recipients, sent);
}

}  // namespace

submission_verdict attempt_submission(const client_config& config, const submission& message) {
  // The password is only looked for when there is a user to log in as.
  std::optional<std::string> password;
  if (!config.user.empty()) password = resolve_password(config);
  asio::io_context context;
  try {
    return run_sync(context, run_submission(config, message, password));
  } catch (const tls_error& e) {
    return failed(exit_code::config, fmt::format("cannot use TLS as configured: {}", e.what()));
  } catch (const smtp_tls_error& e) {
    // Not a temporary failure, unless the server said so (4xx to STARTTLS): the server and
    // the configuration disagree about TLS.
    return failed(e.temporary() ? exit_code::temp_failure : exit_code::unavailable,
                  fmt::format("cannot send securely to the mail server: {}", e.what()));
  } catch (const smtp_client_error& e) {
    return failed(exit_code::temp_failure,
                  fmt::format("cannot reach the mail server at {}:{} ({}); try again later",
                              config.server, config.smtp_port, e.what()));
  }
}

}  // namespace missive::client
