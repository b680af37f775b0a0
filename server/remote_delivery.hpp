// Delivery to a next hop by SMTP: one connection carries the claimed messages for one
// destination (RSET between them); each recipient gets its own fate from the replies.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <functional>
#include <string>
#include <vector>

#include "queue_store.hpp"
#include "recipient_fate.hpp"
#include "router.hpp"
#include "smtp_client.hpp"

namespace missive {

class mail_store;

// Claimed recipients bound for one destination, and the hosts to try for it.
struct delivery_job {
  std::string destination;
  std::vector<next_hop> hops;
  std::vector<remote_recipient> recipients;  // possibly of several messages
};

// The scheduler's decision on attempts (decide_attempts with its clock and policy).
using attempt_decider = std::function<attempt_decision(const std::vector<attempt_result>&)>;

// Delivers a job: connects to the first host that answers, sends each message, and records
// what `decide` makes of every recipient's attempt (and logs it) as soon as its message is
// done. Never throws.
asio::awaitable<void> run_delivery_job(const delivery_job& job, mail_store& store,
                                       const smtp_client_options& options,
                                       const attempt_decider& decide);

// The fate an SMTP reply code means (RFC 5321 4.2.1): 2xx delivered, 4xx retry, 5xx permanent.
attempt_fate fate_of(int code);

// Writes the Postfix-style log line of each outcome, queue id first.
void log_outcomes(const std::vector<delivery_outcome>& outcomes);

}  // namespace missive
