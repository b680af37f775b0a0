// Handing a message over: see hand_over.hpp.
#include "hand_over.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "client_error.hpp"
#include "db.hpp"
#include "exit_codes.hpp"
#include "local_store.hpp"
#include "outbox_flush.hpp"
#include "outbox_store.hpp"

namespace missive::client {

namespace {

void print_refused(const submission_verdict& verdict) {
  for (const auto& line : verdict.refused) std::cerr << "missive: recipient refused: " << line << "\n";
}

// The verdict as the user sees it when the message is not kept.
hand_over_result settle(const submission_verdict& verdict) {
  if (verdict.status != exit_code::ok) throw client_error(verdict.status, verdict.failure);
  return {verdict.queue_id, 0};
}

}  // namespace

hand_over_result hand_over(const client_config& config, const submission& message, bool no_queue) {
  if (no_queue) {
    auto verdict = attempt_submission(config, message);
    print_refused(verdict);
    return settle(verdict);
  }
  std::unique_ptr<local_store> store;
  try {
    store = std::make_unique<local_store>(config.data_dir);
  } catch (const std::exception& e) {
    // Without a store nothing can be kept; the message can still go now.
    std::cerr << fmt::format("missive: the outbox cannot be used ({}); sending without it\n", e.what());
    auto verdict = attempt_submission(config, message);
    print_refused(verdict);
    return settle(verdict);
  }
  outbox_store outbox(*store);
  // Older messages first; all of them, whatever their backoff: the user is sending now.
  flush_report report;
  try {
    report = flush_outbox(config, outbox, [](std::int64_t, std::int64_t) { return true; },
                          std::cerr, std::cerr, "missive: ");
  } catch (const db::error& e) {
    // The waiting messages stay where they are; this one is still worth trying.
    std::cerr << fmt::format("missive: the outbox cannot be flushed now ({})\n", e.what());
  }
  submission_verdict verdict;
  if (report.stop_status == exit_code::temp_failure) {
    // The relay was just found away (or refusing everything for now): no second wait for
    // the same answer.
    verdict.status = exit_code::temp_failure;
    verdict.failure = report.stop_reason;
    verdict.server_wide = true;
  } else {
    verdict = attempt_submission(config, message);
  }
  print_refused(verdict);
  if (verdict.temporary()) {
    const std::int64_t id = outbox.add(message, verdict.failure);
    std::cerr << fmt::format("missive: relay unavailable; queued in the outbox as {}\n", id);
    return {std::nullopt, id};
  }
  return settle(verdict);
}

}  // namespace missive::client
