// Delivery to a next hop by SMTP: see remote_delivery.hpp.
#include "remote_delivery.hpp"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "log.hpp"
#include "mail_store.hpp"
#include "metrics.hpp"
#include "xtext.hpp"

namespace missive {

namespace {

// A reply as it is recorded and shown: "550 5.1.1 text" on one line.
std::string describe(const smtp_reply& reply) {
  std::string text = reply.text;
  std::replace(text.begin(), text.end(), '\n', ' ');
  return reply.enhanced.empty() ? fmt::format("{} {}", reply.code, text)
                                : fmt::format("{} {} {}", reply.code, reply.enhanced, text);
}

bool has_eight_bit(const std::string& content) {
  return std::any_of(content.begin(), content.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

bool has_non_ascii(const std::vector<std::string>& addresses) {
  return std::any_of(addresses.begin(), addresses.end(),
                     [](const std::string& a) { return has_eight_bit(a); });
}

// Every recipient in `recipients` gets the same fate and reason.
void settle_all(const std::vector<remote_recipient>& recipients, attempt_fate fate,
                const std::string& reply, const std::string& relay,
                std::vector<attempt_result>& results) {
  for (const auto& r : recipients) results.push_back({r, fate, reply, relay});
}

// The fate of each recipient of one transaction, from the server's replies.
std::vector<attempt_result> settle(const std::vector<remote_recipient>& recipients,
                                   const smtp_transaction_result& answer, const std::string& relay) {
  std::vector<attempt_result> results;
  if (fate_of(answer.mail.code) != attempt_fate::delivered) {
    settle_all(recipients, fate_of(answer.mail.code), describe(answer.mail), relay, results);
    return results;
  }
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    const smtp_reply* reply = i < answer.recipients.size() ? &answer.recipients[i] : nullptr;
    if (!reply) {
      results.push_back({recipients[i], attempt_fate::retry, "no reply to RCPT", relay});
    } else if (fate_of(reply->code) != attempt_fate::delivered) {
      results.push_back({recipients[i], fate_of(reply->code), describe(*reply), relay});
    } else if (answer.data_end) {
      results.push_back({recipients[i], fate_of(answer.data_end->code), describe(*answer.data_end), relay});
    } else if (answer.data_command) {
      results.push_back(
          {recipients[i], fate_of(answer.data_command->code), describe(*answer.data_command), relay});
    } else {
      results.push_back({recipients[i], attempt_fate::retry, "message data not sent", relay});
    }
  }
  return results;
}

// RFC 3461 5.2.1: the DSN parameters the message came with, passed on as they were given
// (values xtext-encoded again); the client sends them only to a next hop that offers DSN.
void add_dsn_parameters(const std::vector<remote_recipient>& group, smtp_envelope& envelope) {
  const auto& first = group.front();
  if (first.ret == dsn_return::full) envelope.mail_dsn_parameters += " RET=FULL";
  if (first.ret == dsn_return::headers) envelope.mail_dsn_parameters += " RET=HDRS";
  if (!first.envid.empty()) envelope.mail_dsn_parameters += " ENVID=" + xtext_encode(first.envid);
  for (const auto& r : group) {
    std::string parameters;
    if (r.notify != 0) parameters += " NOTIFY=" + format_notify(r.notify);
    auto semicolon = r.orcpt.find(';');
    if (semicolon != std::string::npos) {
      parameters += " ORCPT=" + r.orcpt.substr(0, semicolon + 1) +
                    xtext_encode(std::string_view(r.orcpt).substr(semicolon + 1));
    }
    envelope.rcpt_dsn_parameters.push_back(std::move(parameters));
  }
}

}  // namespace

attempt_fate fate_of(int code) {
  if (code >= 200 && code < 300) return attempt_fate::delivered;
  if (code >= 500 && code < 600) return attempt_fate::permanent;
  return attempt_fate::retry;
}

void log_outcomes(const std::vector<delivery_outcome>& outcomes) {
  for (const auto& o : outcomes) {
    metrics::relay().recipient(o.status, o.relay == "local");
    if (o.status == "notified") {
      // As Postfix words them: a bounce, or another DSN (delayed, delivered, relayed).
      if (o.relay.empty()) log::info(o.queue_id, "sender non-delivery notification: {}", o.detail);
      else log::info(o.queue_id, "sender delivery status notification: {}", o.detail);
      continue;
    }
    log::info(o.queue_id, "to=<{}>, relay={}, delay={}, attempts={}, status={} ({})", o.recipient,
              o.relay, o.delay_seconds, o.attempts, o.status, o.detail);
  }
}

asio::awaitable<void> smtp_courier::deliver(const delivery_job& job, const attempt_report& report) {
  std::vector<attempt_result> results;
  // A message's attempt starts with the connection for the first, with RSET for the others.
  auto attempt_started = std::chrono::steady_clock::now();
  auto executor = co_await asio::this_coro::executor;
  smtp_client client(executor, options_);
  std::string failure = "no host to try";
  bool connected = false;
  for (const auto& hop : job.hops) {
    // Greeting and EHLO must both be 2xx, else the next host is tried (RFC 5321 5.1).
    smtp_reply refusal;
    smtp_client_options hop_options = options_;
    hop_options.starttls = hop.tls == "required" ? smtp_client_options::tls_mode::required
                           : hop.tls == "none"   ? smtp_client_options::tls_mode::none
                                                 : smtp_client_options::tls_mode::opportunistic;
    client = smtp_client(executor, hop_options);  // a fresh session for each host
    try {
      smtp_reply greeting = co_await client.connect(hop.host, hop.port);
      if (greeting.code == 220) {
        smtp_reply hello = co_await client.hello();
        if (hello.code != 250) {
          refusal = hello;
        } else if (!hop.user.empty()) {
          // A smarthost that wants to know who relays through it (RFC 4954).
          smtp_reply auth = co_await client.authenticate(hop.user, hop.password);
          if (auth.code == 235) connected = true;
          else refusal = auth;
        } else {
          connected = true;
        }
      } else {
        refusal = greeting;
      }
    } catch (const smtp_client_error& e) {
      failure = e.what();
      continue;
    }
    if (connected) break;
    failure = fmt::format("{} refused us: {}", client.peer(), describe(refusal));
    co_await client.quit();
  }
  if (!connected) {
    settle_all(job.recipients, attempt_fate::retry, failure, "none", results);
    co_await report(results);
    co_return;
  }

  // One transaction per message and envelope sender (a forwarded recipient has its own,
  // SRS), in the order claimed.
  auto begin = job.recipients.begin();
  // RFC 5321 4.1.1.4: the reply to the end of data ends the transaction, and the server
  // clears its state then; RSET is needed only after one that stopped short of that.
  bool needs_reset = false;
  while (begin != job.recipients.end()) {
    auto end = std::find_if(begin, job.recipients.end(), [&](const remote_recipient& r) {
      return r.message_id != begin->message_id || r.sender != begin->sender;
    });
    std::vector<remote_recipient> group(begin, end);
    begin = end;
    std::string broken;
    try {
      if (needs_reset) co_await client.reset();
      std::string content = co_await store_.queued_body(group.front().message_id);
      smtp_envelope envelope;
      envelope.sender = group.front().sender;
      for (const auto& r : group) envelope.recipients.push_back(r.address);
      envelope.eight_bit = has_eight_bit(content);
      envelope.smtputf8 = has_non_ascii(envelope.recipients) || has_eight_bit(envelope.sender);
      add_dsn_parameters(group, envelope);
      auto answer = co_await client.send(envelope, content);
      needs_reset = !answer.data_end.has_value();
      results = settle(group, answer, client.peer());
      // RFC 3461 5.2.1: a next hop that speaks DSN got NOTIFY and ORCPT and reports itself.
      for (auto& result : results) result.dsn_passed_on = client.extensions().dsn;
      metrics::relay().remote_delivery(std::chrono::steady_clock::now() - attempt_started);
    } catch (const std::exception& e) {
      broken = e.what();
    }
    if (!broken.empty()) {
      // The connection broke: this message and the rest are tried again later. A message
      // whose final reply was lost may arrive twice (RFC 5321 6.1 allows that, not loss).
      settle_all(group, attempt_fate::retry, broken, client.peer(), results);
      settle_all(std::vector<remote_recipient>(begin, job.recipients.end()), attempt_fate::retry,
                 broken, client.peer(), results);
      co_await report(results);
      co_return;
    }
    co_await report(results);
    results.clear();
    attempt_started = std::chrono::steady_clock::now();
  }
  co_await client.quit();
}

}  // namespace missive
