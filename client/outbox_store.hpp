// The outbox in the client's local store (schema/client/002_outbox.sql): messages waiting
// for the relay, with their envelope and exact bytes, claimed one at a time by the client
// that sends them so that two clients at once never send one message twice.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "local_store.hpp"
#include "process_identity.hpp"
#include "submission.hpp"

namespace missive::client {

// One row of `missive outbox`.
struct outbox_entry {
  std::int64_t id = 0;
  std::int64_t queued_at = 0;
  std::string sender;
  std::vector<std::string> recipients;
  std::int64_t size = 0;
  std::int64_t attempts = 0;
  std::int64_t last_attempt_at = 0;
  std::string last_error;
  std::string state;           // "queued" or "refused"
  bool being_sent = false;     // claimed by a client that still runs
};

// A message this process claimed and now sends.
struct claimed_message {
  std::int64_t id = 0;
  submission message;
};

// The outbox. Every change is its own committed transaction (BEGIN IMMEDIATE).
class outbox_store {
 public:
  // The outbox of an open local store.
  explicit outbox_store(local_store& store);

  // Queues a message after its first failed try (`error`); its id.
  std::int64_t add(const submission& message, const std::string& error);
  // Every queued or refused message, oldest first.
  std::vector<outbox_entry> list();
  // Drops a message; false when there is no such id.
  bool remove(std::int64_t id);
  // Claims the oldest queued message with an id above `after` that no live client holds and
  // that `due` accepts (given its attempts and last try); nullopt when there is none.
  std::optional<claimed_message> claim_next(
      std::int64_t after, const std::function<bool(std::int64_t attempts, std::int64_t last)>& due);
  // The relay took the claimed message: it leaves the outbox.
  void sent(std::int64_t id);
  // A try failed: one more attempt, the error kept, the claim released; `refused`: the relay
  // refused it for good, so it is kept for the user but never tried again.
  void failed(std::int64_t id, const std::string& error, bool refused);
  // Queued messages (not refused ones).
  std::int64_t waiting();

 private:
  db::connection& db_;
  process_identity me_;
};

}  // namespace missive::client
