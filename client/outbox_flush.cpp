// Flushing the outbox: see outbox_flush.hpp.
#include "outbox_flush.hpp"

#include <fmt/format.h>

#include "exit_codes.hpp"
#include "submission.hpp"

namespace missive::client {

namespace {

// A failure that does not depend on the message: trying the next one would meet it too.
bool stops_the_flush(const submission_verdict& verdict) {
  if (verdict.server_wide) return true;
  return verdict.status == exit_code::no_permission || verdict.status == exit_code::unavailable ||
         verdict.status == exit_code::config;
}

}  // namespace

flush_report flush_outbox(const client_config& config, outbox_store& outbox, const outbox_due& due,
                          std::ostream& notes, std::ostream& errors,
                          std::string_view note_prefix) {
  flush_report report;
  // A cursor over ids: a message that fails now is not tried again in the same flush.
  std::int64_t after = 0;
  while (auto claimed = outbox.claim_next(after, due)) {
    after = claimed->id;
    submission_verdict verdict;
    try {
      verdict = attempt_submission(config, claimed->message);
    } catch (const std::exception& e) {
      // Released before the error goes up: a live client never sits on a claim it dropped.
      outbox.failed(claimed->id, e.what(), false);
      throw;
    }
    if (verdict.status == exit_code::ok) {
      // At-least-once: a crash before this commit leaves the message queued and unclaimed
      // (its holder is dead), so it is sent again; SMTP gives no way to ask the relay.
      outbox.sent(claimed->id);
      ++report.sent;
      notes << fmt::format("{}sent outbox message {} (queued as {})\n", note_prefix, claimed->id,
                           verdict.queue_id);
      notes.flush();
      continue;
    }
    for (const auto& line : verdict.refused) {
      errors << fmt::format("missive: outbox message {}: recipient refused: {}\n", claimed->id, line);
    }
    const bool refused = !verdict.temporary() && !stops_the_flush(verdict);
    outbox.failed(claimed->id, verdict.failure, refused);
    if (refused) {
      ++report.refused;
      report.refused_status = verdict.status;
      errors << fmt::format("missive: outbox message {}: {}; it stays in the outbox until "
                            "`missive outbox delete {}`\n",
                            claimed->id, verdict.failure, claimed->id);
      continue;
    }
    ++report.deferred;
    if (stops_the_flush(verdict)) {
      report.stop_status = verdict.status;
      report.stop_reason = verdict.failure;
      break;
    }
  }
  return report;
}

}  // namespace missive::client
