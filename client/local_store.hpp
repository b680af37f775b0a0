// The client's local store (schema/client/): fetched messages and pending server deletions,
// in one SQLite file in the data directory.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "db.hpp"

namespace missive::client {

// One row of the inbox listing.
struct stored_summary {
  std::int64_t id = 0;
  std::int64_t date_unix = 0;
  std::string from;
  std::string subject;
  std::int64_t size = 0;
  bool seen = false;
};

// A message as stored.
struct stored_message {
  std::int64_t id = 0;
  std::string uid;
  std::string raw;
  bool seen = false;
};

// The local store. Every change is its own committed transaction.
class local_store {
 public:
  // Opens (creating the folder and file when needed) and migrates the store in `data_dir`.
  explicit local_store(const std::string& data_dir);

  // The uids of `account` already stored (shown, seen or deleted locally).
  std::set<std::string> known_uids(const std::string& account);
  // Stores one fetched message in its own transaction; the new id, or nullopt when the uid
  // was already stored (INSERT OR IGNORE on UNIQUE(account, uid)).
  std::optional<std::int64_t> insert(const std::string& account, const std::string& uid,
                                     const std::string& raw);
  // The inbox, newest first, without messages deleted locally.
  std::vector<stored_summary> list();
  // The messages an FTS5 MATCH expression finds (search_query.hpp), newest first. Throws
  // db::error (SQLITE_ERROR) when FTS5 cannot parse the expression.
  std::vector<stored_summary> search(const std::string& match);
  // The header section of every message not deleted locally, with its summary: what
  // threading needs (thread_grouping.hpp).
  std::vector<std::pair<stored_summary, std::string>> list_with_headers();
  // One message by id, unless deleted locally.
  std::optional<stored_message> find(std::int64_t id);
  // Marks a message seen.
  void mark_seen(std::int64_t id);
  // Hides a message and queues its deletion on the server; false when there is no such id.
  bool delete_locally(std::int64_t id);
  // The uids whose deletion on the server is pending for `account`.
  std::set<std::string> pending_deletions(const std::string& account);
  // The server no longer has these uids: forget the pending deletions and the tombstones.
  void deletions_done(const std::string& account, const std::set<std::string>& uids);

  // The connection, for the outbox (outbox_store.hpp), which shares the file.
  db::connection& db() { return db_; }

 private:
  // Puts one message's decoded text into message_search (003_search.sql).
  void index_message(std::int64_t id, std::string_view raw);
  // Indexes the messages stored before search existed (or by an older missive).
  void index_unindexed();

  db::connection db_;
};

}  // namespace missive::client
