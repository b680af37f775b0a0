// `missive outbox`, `outbox delete` and `flush`: what waits for the relay.
#include <fmt/format.h>

#include <iostream>

#include "client_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "json_text.hpp"
#include "local_store.hpp"
#include "outbox_flush.hpp"
#include "outbox_store.hpp"
#include "terminal_text.hpp"

namespace missive::client {

namespace {

std::string joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// The README documents this shape.
void print_json(const std::vector<outbox_entry>& entries) {
  std::string out = "{\"outbox\": [";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    std::string recipients;
    for (const auto& r : e.recipients) recipients += (recipients.empty() ? "" : ", ") + json_string(r);
    out += fmt::format(
        "{}\n  {{\"id\": {}, \"queued_at\": {}, \"sender\": {}, \"recipients\": [{}], "
        "\"size\": {}, \"attempts\": {}, \"last_attempt_at\": {}, \"last_error\": {}, "
        "\"state\": {}, \"being_sent\": {}}}",
        i == 0 ? "" : ",", e.id, e.queued_at, json_string(e.sender), recipients, e.size,
        e.attempts, e.last_attempt_at, json_string(e.last_error), json_string(e.state),
        e.being_sent ? "true" : "false");
  }
  out += entries.empty() ? "]}\n" : "\n]}\n";
  std::cout << out;
}

}  // namespace

int run_outbox(const client_config& config, bool json) {
  local_store store(config.data_dir);
  outbox_store outbox(store);
  auto entries = outbox.list();
  if (json) {
    print_json(entries);
    return exit_code::ok;
  }
  std::cout << fmt::format("{:>5}  {:<16}  {:>8}  {:<7}  {}  {}\n", "ID", "QUEUED", "ATTEMPTS",
                           "STATE", fit("RECIPIENTS", 32), "LAST ERROR");
  for (const auto& e : entries) {
    std::string state = e.being_sent ? "sending" : e.state;
    std::cout << fmt::format("{:>5}  {:<16}  {:>8}  {:<7}  {}  {}\n", e.id, format_local(e.queued_at),
                             e.attempts, state, fit(printable(joined(e.recipients, ", ")), 32),
                             printable(e.last_error));
  }
  return exit_code::ok;
}

int run_outbox_delete(const client_config& config, std::int64_t id) {
  local_store store(config.data_dir);
  outbox_store outbox(store);
  if (!outbox.remove(id)) {
    throw client_error(exit_code::data_error, fmt::format("there is no message {} in the outbox", id));
  }
  std::cout << fmt::format("deleted outbox message {}\n", id);
  return exit_code::ok;
}

int run_flush(const client_config& config) {
  local_store store(config.data_dir);
  outbox_store outbox(store);
  auto report = flush_outbox(config, outbox, [](std::int64_t, std::int64_t) { return true; },
                             std::cout, std::cerr);
  const std::int64_t waiting = outbox.waiting();
  if (report.stop_status != 0 && report.stop_status != exit_code::temp_failure) {
    // Bad credentials or TLS: waiting will not help, the configuration must change.
    throw client_error(report.stop_status, report.stop_reason);
  }
  if (waiting > 0) {
    std::size_t busy = 0;
    for (const auto& e : outbox.list()) busy += e.being_sent ? 1 : 0;
    std::string why = !report.stop_reason.empty() ? ": " + report.stop_reason
                      : busy > 0 ? fmt::format(" ({} being sent by another missive)", busy)
                                 : "";
    throw client_error(exit_code::temp_failure,
                       fmt::format("{} {} still in the outbox{}", waiting,
                                   waiting == 1 ? "message is" : "messages are", why));
  }
  if (report.refused > 0) return report.refused_status;
  return exit_code::ok;
}

}  // namespace missive::client
