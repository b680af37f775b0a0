// `missived store copy`: moving a relay from its SQLite file to PostgreSQL, losing nothing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace missive {

// What a copy moved.
struct copy_counts {
  std::int64_t users = 0;
  std::int64_t messages = 0;
  std::int64_t recipients = 0;
  std::int64_t events = 0;
  std::int64_t aliases = 0;  // alias rows: one per source and target
};

// How far a copy is: rows of one table copied so far, out of how many.
struct copy_progress {
  const char* table;  // "users", "messages", "recipients" or "history events"
  std::int64_t done = 0;
  std::int64_t total = 0;
};

// Told of the progress: at the start and end of each table, and every few hundred rows.
using copy_progress_callback = std::function<void(const copy_progress&)>;

// Copies users, messages (queued, in maildrops and finished), recipients and history from
// the SQLite database at `sqlite_file` into the PostgreSQL database at `url`, in one
// transaction, keeping every row id: the POP3 unique-ids (queue id and recipient id) stay
// the same. The PostgreSQL database gets the schema if it has none, and must hold no
// message or user yet. Throws store_error when it cannot. `progress`, when given, is told
// how far the copy is.
copy_counts copy_to_postgresql(const std::filesystem::path& sqlite_file, const std::string& url,
                               const copy_progress_callback& progress = {});

}  // namespace missive
