// Queue administration: see admin_queue.hpp.
#include "admin_queue.hpp"

#include <signal.h>

#include <fmt/format.h>

#include <ctime>
#include <iostream>
#include <optional>

#include "db.hpp"
#include "exit_codes.hpp"
#include "sqlite_store.hpp"
#include "message_headers.hpp"
#include "pid_file.hpp"
#include "queue_store.hpp"
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
void print_recipients(db::connection& db, std::int64_t message_id) {
  auto& query = db.prepare(
      "SELECT address, state, attempts, next_attempt_at, last_reply, in_flight FROM recipient "
      "WHERE message_id = ?1 ORDER BY id");
  query.bind(1, message_id);
  while (query.step()) {
    std::string state = query.column_text(1);
    bool pending = state == "queued" || state == "deferred";
    if (pending && query.column_int(5)) state = "sending";
    std::cout << fmt::format("    to=<{}>  state={}  attempts={}  next={}  reply={}\n",
                             query.column_text(0), state, query.column_int(2),
                             pending ? iso_time(query.column_int(3)) : "-",
                             query.column_is_null(4) ? "-" : query.column_text(4));
  }
  query.reset();
}

// The row id of a message by queue id.
std::optional<std::int64_t> find_message(db::connection& db, const std::string& queue_id) {
  return db.prepare("SELECT id FROM message WHERE queue_id = ?1").bind(1, queue_id).single_int();
}

int list(db::connection& db) {
  auto& query = db.prepare(
      "SELECT id, queue_id, received_at, size, sender FROM message m WHERE EXISTS "
      "(SELECT 1 FROM recipient r WHERE r.message_id = m.id AND r.state IN ('queued', 'deferred')) "
      "ORDER BY received_at, id");
  std::int64_t now = unix_now();
  bool any = false;
  while (query.step()) {
    if (any) std::cout << "\n";
    any = true;
    std::cout << fmt::format("{}  {}  {}  from=<{}>\n", query.column_text(1),
                             age(now - query.column_int(2)), query.column_int(3),
                             query.column_text(4));
    print_recipients(db, query.column_int(0));
  }
  query.reset();
  if (!any) std::cout << "queue is empty\n";
  return exit_code::ok;
}

int show(db::connection& db, const std::string& queue_id) {
  auto id = find_message(db, queue_id);
  if (!id) {
    std::cerr << fmt::format("missived: no message {} in the queue\n", queue_id);
    return exit_code::failure;
  }
  auto& query = db.prepare("SELECT sender, received_at, size, client, body FROM message WHERE id = ?1");
  query.bind(1, *id);
  query.step();
  std::cout << fmt::format("queue id: {}\nfrom: <{}>\narrival: {}\nsize: {}\nclient: {}\n\n",
                           queue_id, query.column_text(0), iso_time(query.column_int(1)),
                           query.column_int(2), query.column_text(3));
  std::string headers(header_section(query.column_view(4)));
  query.reset();
  std::cout << "recipients:\n";
  print_recipients(db, *id);
  std::cout << "\nevents:\n";
  auto& events = db.prepare(
      "SELECT at, kind, recipient, detail FROM message_history WHERE message_id = ?1 "
      "ORDER BY at, rank, position");
  events.bind(1, *id);
  while (events.step()) {
    std::cout << fmt::format("    {}  {}  {}  {}\n", iso_time(events.column_int(0)),
                             events.column_text(1),
                             events.column_is_null(2) ? "-" : "<" + events.column_text(2) + ">",
                             events.column_text(3));
  }
  events.reset();
  std::cout << "\nheaders:\n" << (headers.empty() ? "    (the body is no longer stored)\n" : headers);
  return exit_code::ok;
}

// Tells the running relay, if any, to look at the queue again.
void wake_relay(const server_config& config) {
  if (auto pid = running_relay(config.data_dir)) {
    ::kill(*pid, SIGUSR1);
  } else {
    std::cout << "no relay is running on this data directory; the recipients are tried when it starts\n";
  }
}

int make_due(db::connection& db, const server_config& config, std::optional<std::int64_t> message) {
  auto& update = db.prepare(
      "UPDATE recipient SET next_attempt_at = ?1 WHERE state IN ('queued', 'deferred') "
      "AND (?2 IS NULL OR message_id = ?2)");
  update.bind(1, unix_now());
  if (message) update.bind(2, *message);
  else update.bind_null(2);
  update.run();
  int changed = db.changes();
  std::cout << fmt::format("{} recipient{} due now\n", changed, changed == 1 ? "" : "s");
  if (changed > 0) wake_relay(config);
  return exit_code::ok;
}

int remove(db::connection& db, const std::string& queue_id) {
  auto id = find_message(db, queue_id);
  if (!id) {
    std::cerr << fmt::format("missived: no message {} in the queue\n", queue_id);
    return exit_code::failure;
  }
  db::transaction tx(db);
  db.prepare(
        "UPDATE recipient SET state = 'failed', last_reply = 'deleted by the administrator' "
        "WHERE message_id = ?1 AND state IN ('queued', 'deferred')")
      .bind(1, *id)
      .run();
  collect_message(db, *id);
  tx.commit();
  std::cout << fmt::format("deleted {}\n", queue_id);
  return exit_code::ok;
}

}  // namespace

int run_queue_command(const server_config& config, const queue_command& command) {
  prepare_database(config.database_path());
  db::connection db(config.database_path().string());
  db.exec("PRAGMA foreign_keys = ON");
  if (command.action == "list") return list(db);
  if (command.action == "show") return show(db, command.queue_id);
  if (command.action == "flush") return make_due(db, config, std::nullopt);
  if (command.action == "delete") return remove(db, command.queue_id);
  // retry
  auto id = find_message(db, command.queue_id);
  if (!id) {
    std::cerr << fmt::format("missived: no message {} in the queue\n", command.queue_id);
    return exit_code::failure;
  }
  return make_due(db, config, id);
}

}  // namespace missive
