// Sending what waits in the outbox: each message claimed, tried once, and then sent (it
// leaves the outbox), kept with its error (4xx, relay away), or kept as refused (5xx).
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "client_config.hpp"
#include "outbox_store.hpp"

namespace missive::client {

// What one flush did.
struct flush_report {
  std::size_t sent = 0;
  std::size_t deferred = 0;     // tried, failed for now, still queued
  std::size_t refused = 0;      // refused for good (5xx) in this flush
  int refused_status = 0;       // 65 or 67: the status of the last refusal
  // Non-zero when the flush stopped at a failure every message would meet: 75 the relay is
  // unreachable or refused the session for now (4xx greeting, EHLO, STARTTLS, AUTH), 77 bad
  // credentials, 69 or 78 TLS. The messages not tried stay queued.
  int stop_status = 0;
  std::string stop_reason;      // one sentence, when stop_status is set
};

// Which queued messages a flush tries, from their failed attempts and last try (unix s).
using outbox_due = std::function<bool(std::int64_t attempts, std::int64_t last_attempt_at)>;

// Tries every queued message `due` accepts, oldest first, each at most once. `notes` gets
// one line per message sent ("sent outbox message N (queued as ID)", after `note_prefix`);
// `errors` one line per refusal. Throws client_error 78 when the server wants a password
// and none is configured.
flush_report flush_outbox(const client_config& config, outbox_store& outbox, const outbox_due& due,
                          std::ostream& notes, std::ostream& errors,
                          std::string_view note_prefix = "");

}  // namespace missive::client
