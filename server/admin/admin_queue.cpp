// Queue administration: see admin_queue.hpp.
#include "admin_queue.hpp"

#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ctime>
#include <iostream>
#include <optional>

#include "exit_codes.hpp"
#include "json_text.hpp"
#include "open_store.hpp"
#include "queue_shape.hpp"
#include "run_sync.hpp"
#include "server_config.hpp"

namespace missive {

namespace {

std::string iso_time(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

// An age in its largest whole unit: "42s", "5m", "3h", "2d".
std::string age(std::int64_t seconds) {
  if (seconds >= 86400) return fmt::format("{}d", seconds / 86400);
  if (seconds >= 3600) return fmt::format("{}h", seconds / 3600);
  if (seconds >= 60) return fmt::format("{}m", seconds / 60);
  return fmt::format("{}s", std::max<std::int64_t>(seconds, 0));
}

// Prints one line per recipient of a message.
void print_recipients(const std::vector<recipient_status>& recipients) {
  for (const auto& r : recipients) {
    std::cout << fmt::format("    to=<{}>  state={}  attempts={}  next={}  reply={}\n", r.address,
                             r.state, r.attempts,
                             r.next_attempt_at ? iso_time(*r.next_attempt_at) : "-",
                             r.last_reply.value_or("-"));
  }
}

// A JSON string, or null when there is no value.
std::string quote_or_null(const std::optional<std::string>& text) {
  return text ? json_string(*text) : std::string("null");
}

// A message's recipients as a JSON array (shape in missived(8)).
std::string recipients_json(const std::vector<recipient_status>& recipients) {
  std::vector<std::string> items;
  for (const auto& r : recipients) {
    items.push_back(fmt::format(
        "{{\"address\": {}, \"state\": {}, \"attempts\": {}, \"next_attempt_at\": {}, "
        "\"last_reply\": {}}}",
        json_string(r.address), json_string(r.state), r.attempts,
        r.next_attempt_at ? json_string(iso_time(*r.next_attempt_at)) : "null",
        quote_or_null(r.last_reply)));
  }
  return fmt::format("[{}]", fmt::join(items, ", "));
}

// The fields `queue list` and `queue show` share, without the braces.
std::string summary_json_fields(const message_summary& m) {
  return fmt::format("\"queue_id\": {}, \"sender\": {}, \"received_at\": {}, \"size\": {}, "
                     "\"recipients\": {}",
                     json_string(m.queue_id), json_string(m.sender), json_string(iso_time(m.received_at)),
                     m.size, recipients_json(m.recipients));
}

int list_json(const std::vector<message_summary>& messages) {
  std::int64_t now = std::time(nullptr);
  std::vector<std::string> items;
  for (const auto& m : messages) {
    items.push_back(fmt::format("{{{}, \"age_seconds\": {}}}", summary_json_fields(m),
                                std::max<std::int64_t>(now - m.received_at, 0)));
  }
  std::cout << fmt::format("{{\"messages\": [{}]}}\n", fmt::join(items, ",\n  "));
  return exit_code::ok;
}

int show_json(const message_story& story) {
  std::vector<std::string> events;
  for (const auto& e : story.events) {
    events.push_back(fmt::format("{{\"at\": {}, \"kind\": {}, \"recipient\": {}, \"detail\": {}}}",
                                 json_string(iso_time(e.at)), json_string(e.kind),
                                 quote_or_null(e.recipient), json_string(e.detail)));
  }
  std::cout << fmt::format(
      "{{{}, \"client\": {}, \"events\": [{}], \"headers\": {}}}\n", summary_json_fields(story.summary),
      json_string(story.client), fmt::join(events, ", "),
      story.headers.empty() ? "null" : json_string(story.headers));
  return exit_code::ok;
}

// `queue summary`: qshape's table, or its JSON.
int summary(const std::vector<message_summary>& messages, bool as_json) {
  queue_shape shape = shape_of(messages, std::time(nullptr));
  if (as_json) {
    std::vector<std::string> labels, rows;
    for (std::size_t i = 0; i < queue_shape_buckets; ++i) labels.push_back(json_string(bucket_label(i)));
    auto row_json = [](const shape_row& row) {
      return fmt::format("\"recipients\": {}, \"counts\": [{}]", row.total, fmt::join(row.counts, ", "));
    };
    for (const auto& row : shape.domains) {
      rows.push_back(fmt::format("{{\"domain\": {}, {}}}", json_string(row.domain), row_json(row)));
    }
    std::cout << fmt::format("{{\"buckets\": [{}],\n \"total\": {{{}}},\n \"domains\": [{}]}}\n",
                             fmt::join(labels, ", "), row_json(shape.total),
                             fmt::join(rows, ",\n  "));
    return exit_code::ok;
  }
  std::size_t width = 5;  // "TOTAL"
  for (const auto& row : shape.domains) width = std::max(width, row.domain.size());
  std::string header = fmt::format("{:>{}} {:>6}", "", width, "T");
  for (auto bound : queue_shape_bounds) header += fmt::format(" {:>6}", bound);
  header += fmt::format(" {:>6}", fmt::format("{}+", queue_shape_bounds.back()));
  std::cout << header << "\n";
  auto print_row = [&](std::string_view name, const shape_row& row) {
    std::string line = fmt::format("{:>{}} {:>6}", name, width, row.total);
    for (auto count : row.counts) line += fmt::format(" {:>6}", count);
    std::cout << line << "\n";
  };
  print_row("TOTAL", shape.total);
  for (const auto& row : shape.domains) print_row(row.domain, row);
  return exit_code::ok;
}

int list(const std::vector<message_summary>& messages) {
  std::int64_t now = std::time(nullptr);
  bool any = false;
  for (const auto& m : messages) {
    if (any) std::cout << "\n";
    any = true;
    std::cout << fmt::format("{}  {}  {}  from=<{}>\n", m.queue_id, age(now - m.received_at),
                             m.size, m.sender);
    print_recipients(m.recipients);
  }
  if (!any) std::cout << "queue is empty\n";
  return exit_code::ok;
}

int show(const message_story& story) {
  const auto& m = story.summary;
  std::cout << fmt::format("queue id: {}\nfrom: <{}>\narrival: {}\nsize: {}\nclient: {}\n\n",
                           m.queue_id, m.sender, iso_time(m.received_at), m.size, story.client);
  std::cout << "recipients:\n";
  print_recipients(m.recipients);
  std::cout << "\nevents:\n";
  for (const auto& e : story.events) {
    std::cout << fmt::format("    {}  {}  {}  {}\n", iso_time(e.at), e.kind,
                             e.recipient ? "<" + *e.recipient + ">" : "-", e.detail);
  }
  std::cout << "\nheaders:\n"
            << (story.headers.empty() ? "    (the body is no longer stored)\n" : story.headers);
  return exit_code::ok;
}

int no_such_message(const std::string& queue_id) {
  std::cerr << fmt::format("missived: no message {} in the queue\n", queue_id);
  return exit_code::failure;
}

// Runs one store operation to its end.
template <typename T>
T wait_for(asio::awaitable<T> operation) {
  asio::io_context io;
  return run_sync(io, std::move(operation));
}

}  // namespace

int run_queue_command(const server_config& config, const queue_command& command) {
  auto store = open_store(config, store_purpose::admin);
  if (command.action == "list") {
    auto messages = wait_for(store->pending_messages());
    return command.json ? list_json(messages) : list(messages);
  }
  if (command.action == "summary") return summary(wait_for(store->pending_messages()), command.json);
  if (command.action == "show") {
    auto story = wait_for(store->story(command.queue_id));
    if (!story) return no_such_message(command.queue_id);
    return command.json ? show_json(*story) : show(*story);
  }
  if (command.action == "delete") {
    if (!wait_for(store->delete_message(command.queue_id))) return no_such_message(command.queue_id);
    std::cout << fmt::format("deleted {}\n", command.queue_id);
    return exit_code::ok;
  }
  // flush, or retry of one message
  std::optional<std::string> which;
  if (command.action == "retry") which = command.queue_id;
  auto changed = wait_for(store->make_due(which));
  if (!changed) return no_such_message(command.queue_id);
  std::cout << fmt::format("{} recipient{} due now\n", *changed, *changed == 1 ? "" : "s");
  if (*changed > 0 && !store->announce_due_work()) {
    std::cout << "no relay is running on this data directory; the recipients are tried when it starts\n";
  }
  return exit_code::ok;
}

}  // namespace missive
