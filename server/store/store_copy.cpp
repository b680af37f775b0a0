// Copying a SQLite store into PostgreSQL: see store_copy.hpp.
#include "store_copy.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "db.hpp"
#include "pg_connection.hpp"
#include "pg_store.hpp"
#include "pg_worker.hpp"
#include "sqlite_store.hpp"
#include "store_error.hpp"

namespace missive {

namespace {

// A table copied column for column: its name in each database and its columns, the body
// being the one blob.
struct table_copy {
  const char* label;  // for progress
  const char* sqlite_name;
  const char* postgres_name;
  const char* columns;
  int column_count;
  int blob_column;  // 0-based, or -1
};

// In the order foreign keys need. Leases start empty: no node is delivering anything.
constexpr table_copy tables[] = {
    {"users", "user", "\"user\"", "id, address, password_hash, created_at", 4, -1},
    {"messages", "message", "message",
     "id, queue_id, sender, size, received_at, client, body, dsn_ret, dsn_envid, delay_warned", 10, 6},
    {"recipients", "recipient", "recipient",
     "id, message_id, address, is_local, state, attempts, next_attempt_at, last_attempt_at, "
     "last_reply, mailbox_user_id, mailbox, sender, dsn_notify, dsn_orcpt",
     14, -1},
    {"history events", "event", "event", "id, message_id, at, recipient, kind, detail", 6, -1},
    {"aliases", "alias", "alias", "id, source, target", 3, -1},
};

// Rows between two progress reports: often enough for a person to see it move, seldom
// enough to cost nothing beside the inserts.
constexpr std::int64_t progress_every = 500;

std::int64_t copy_table(db::connection& from, pg::connection& to, const table_copy& t,
                        const copy_progress_callback& progress) {
  copy_progress report{t.label, 0, 0};
  if (progress) {
    report.total = from.prepare(fmt::format("SELECT count(*) FROM {}", t.sqlite_name))
                       .single_int()
                       .value_or(0);
    progress(report);
  }
  std::string placeholders;
  for (int i = 1; i <= t.column_count; ++i) placeholders += fmt::format("{}?{}", i > 1 ? ", " : "", i);
  // The ids are kept (OVERRIDING SYSTEM VALUE): maildrop unique-ids are built from them.
  auto& insert = to.prepare(fmt::format("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({})",
                                        t.postgres_name, t.columns, placeholders));
  auto& rows = from.prepare(fmt::format("SELECT {} FROM {} ORDER BY id", t.columns, t.sqlite_name));
  std::int64_t copied = 0;
  while (rows.step()) {
    for (int i = 0; i < t.column_count; ++i) {
      if (rows.column_is_null(i)) insert.bind_null(i + 1);
      else if (i == t.blob_column) insert.bind_blob(i + 1, rows.column_view(i));
      else insert.bind(i + 1, rows.column_view(i));
    }
    insert.run();
    ++copied;
    if (progress && copied % progress_every == 0) {
      report.done = copied;
      progress(report);
    }
  }
  rows.reset();
  // The identity continues after the copied ids.
  to.exec(fmt::format("SELECT setval(pg_get_serial_sequence('{}', 'id'), "
                      "(SELECT coalesce(max(id), 0) + 1 FROM {}), false)",
                      t.postgres_name, t.postgres_name));
  if (progress) {
    report.done = copied;
    report.total = std::max(report.total, copied);
    progress(report);
  }
  return copied;
}

}  // namespace

copy_counts copy_to_postgresql(const std::filesystem::path& sqlite_file, const std::string& url,
                               const copy_progress_callback& progress) {
  if (!std::filesystem::exists(sqlite_file)) {
    throw store_error(store_error::kind::permanent,
                      fmt::format("no SQLite store at {}", sqlite_file.string()));
  }
  // Brings the SQLite file's schema up to date first, and makes PostgreSQL's.
  prepare_database(sqlite_file);
  { pg_store made(pg_store_settings{url, "copy", std::chrono::seconds(300), {}}, {}, pg_store::opening::admin); }
  try {
    db::connection from(sqlite_file.string(), db::open_options{.read_only = true, .create = false});
    pg::connection to(url);
    pg::transaction tx(to);
    // Nothing copied over mail that is already there: the ids would collide.
    auto there = to.prepare("SELECT (SELECT count(*) FROM message) + (SELECT count(*) FROM \"user\") "
                            "+ (SELECT count(*) FROM alias)")
                     .single_int();
    if (there.value_or(0) > 0) {
      throw store_error(store_error::kind::permanent,
                        "the PostgreSQL database already holds messages, users or aliases: copy only into an "
                        "empty one");
    }
    // A SQLite read transaction: one consistent picture, even beside a running relay.
    from.exec("BEGIN");
    copy_counts counts;
    counts.users = copy_table(from, to, tables[0], progress);
    counts.messages = copy_table(from, to, tables[1], progress);
    counts.recipients = copy_table(from, to, tables[2], progress);
    counts.events = copy_table(from, to, tables[3], progress);
    counts.aliases = copy_table(from, to, tables[4], progress);
    from.exec("COMMIT");
    tx.commit();
    return counts;
  } catch (const pg::error&) {
    std::rethrow_exception(as_store_error_pg(std::current_exception()));
  } catch (const db::error& e) {
    throw store_error(store_error::kind::permanent, e.what());
  }
}

}  // namespace missive
