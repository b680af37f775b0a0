// Handing a composed message to the relay as a sender would expect of a mail system: what
// waits in the outbox goes first, and a message the relay cannot take now (it is away, or
// answers 4xx, also at STARTTLS or AUTH) is kept in the outbox rather than lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "client_config.hpp"
#include "submission.hpp"

namespace missive::client {

// Where a message went.
struct hand_over_result {
  std::optional<std::string> queue_id;  // the relay's id, when it took the message now
  std::int64_t outbox_id = 0;           // else the outbox's id
};

// Flushes the outbox, then submits `message`; when that fails for now, queues it in the
// outbox and says so on stderr ("missive: relay unavailable; queued in the outbox as N").
// `no_queue`: neither flush nor queue (the behaviour of a plain SMTP client). Throws
// client_error for every failure not queued (submission.hpp lists the statuses).
hand_over_result hand_over(const client_config& config, const submission& message, bool no_queue);

}  // namespace missive::client
