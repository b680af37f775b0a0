// Queue administration: see admin_queue.hpp.
#include "admin_queue.hpp"

#include <asio/io_context.hpp>
#include <fmt/format.h>

#include <ctime>
#include <iostream>
#include <optional>

#include "exit_codes.hpp"
#include "open_store.hpp"
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
  if (command.action == "list") return list(wait_for(store->pending_messages()));
  if (command.action == "show") {
    auto story = wait_for(store->story(command.queue_id));
    return story ? show(*story) : no_such_message(command.queue_id);
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
