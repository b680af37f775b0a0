// The courier: carries claimed recipients to where they go and says how each attempt ended,
// with the reply it got. It decides nothing: what a result means for the recipient is the
// scheduler's (recipient_fate.hpp). Remote SMTP is one courier (remote_delivery.hpp); the
// scheduler's tests use a fake one.
#pragma once

#include <asio/awaitable.hpp>

#include <functional>
#include <string>
#include <vector>

#include "queue_types.hpp"
#include "router.hpp"

namespace missive {

// Claimed recipients bound for one destination, and the hosts to try for it.
struct delivery_job {
  std::string destination;
  std::vector<next_hop> hops;
  std::vector<remote_recipient> recipients;  // possibly of several messages, in claim order
};

// Takes the results of one message of a job as soon as its transaction is done, so they are
// recorded before the next message is tried (a crash then resends less).
using attempt_report = std::function<asio::awaitable<void>(std::vector<attempt_result>&)>;

// Delivers jobs.
class courier {
 public:
  virtual ~courier() = default;
  // Attempts every recipient of `job`, reporting each exactly once through `report`, unless
  // it throws (the scheduler then defers what was not reported).
  virtual asio::awaitable<void> deliver(const delivery_job& job, const attempt_report& report) = 0;
};

}  // namespace missive
