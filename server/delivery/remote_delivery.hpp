// The SMTP courier: one connection carries the claimed messages for one destination (RSET
// only after a transaction that ended before its data); each recipient's result comes from
// the replies.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <string>
#include <vector>

#include "courier.hpp"
#include "queue_types.hpp"
#include "smtp_client.hpp"

namespace missive {

class mail_store;

// Delivers jobs by SMTP: connects to the first host of the job that answers (RFC 5321 5.1),
// sends each message with the bodies read from the store, and reports each message's
// results as soon as its transaction is done.
class smtp_courier : public courier {
 public:
  smtp_courier(mail_store& store, smtp_client_options options)
      : store_(store), options_(std::move(options)) {}
  asio::awaitable<void> deliver(const delivery_job& job, const attempt_report& report) override;

 private:
  mail_store& store_;
  smtp_client_options options_;
};

// The fate an SMTP reply code means (RFC 5321 4.2.1): 2xx delivered, 4xx retry, 5xx permanent.
attempt_fate fate_of(int code);

// Writes the Postfix-style log line of each outcome, queue id first.
void log_outcomes(const std::vector<delivery_outcome>& outcomes);

}  // namespace missive
