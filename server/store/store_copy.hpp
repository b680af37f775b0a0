// `missived store copy`: moving a relay from its SQLite file to PostgreSQL, losing nothing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace missive {

// What a copy moved.
struct copy_counts {
  std::int64_t users = 0;
  std::int64_t messages = 0;
  std::int64_t recipients = 0;
  std::int64_t events = 0;
};

// Copies users, messages (queued, in maildrops and finished), recipients and history from
// the SQLite database at `sqlite_file` into the PostgreSQL database at `url`, in one
// transaction, keeping every row id: the POP3 unique-ids (queue id and recipient id) stay
// the same. The PostgreSQL database gets the schema if it has none, and must hold no
// message or user yet. Throws store_error when it cannot.
copy_counts copy_to_postgresql(const std::filesystem::path& sqlite_file, const std::string& url);

}  // namespace missive
