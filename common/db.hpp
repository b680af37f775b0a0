// A thin RAII layer over SQLite: connections, cached prepared statements, transactions.
// Every call checks its result; failures throw db::error with SQLite's message.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace missive::db {

// A failed SQLite call: what was being done and SQLite's own message and code.
class error : public std::runtime_error {
 public:
  error(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  // The SQLite result code (SQLITE_FULL, SQLITE_BUSY, ...).
  int code() const { return code_; }
  // The database or the disk under it is full (SQLITE_FULL, or a write that met ENOSPC).
  bool disk_full() const;

 private:
  int code_;
};

// A prepared statement: bind parameters, step through rows, read columns. Move-only.
class statement {
 public:
  statement(sqlite3* handle, std::string_view sql);
  statement(statement&& other) noexcept;
  statement& operator=(statement&& other) noexcept;
  ~statement();

  // Binds parameters by 1-based index; text and blobs are copied by SQLite only if needed.
  statement& bind(int index, std::int64_t value);
  statement& bind(int index, std::string_view text);
  statement& bind_blob(int index, std::string_view bytes);
  // A blob of `size` zero octets, filled in afterwards with connection::write_blob; SQLite
  // does not materialize it when it is the row's last column.
  statement& bind_zeroblob(int index, std::uint64_t size);
  statement& bind_null(int index);

  // Steps once: true when a row is ready, false when done.
  bool step();
  // Steps a statement that returns no rows, then resets it for reuse.
  void run();
  // Resets the statement and clears its bindings, ready to run again.
  void reset();
  // Steps once and resets: the first column of the first row, unless there is no row or
  // it is NULL.
  std::optional<std::int64_t> single_int();

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  // A view of a text or blob column, valid until the next step or reset.
  std::string_view column_view(int index) const;
  bool column_is_null(int index) const;

 private:
  void check(int rc, const char* what) const;
  sqlite3_stmt* stmt_ = nullptr;
};

// How a connection is opened.
struct open_options {
  bool read_only = false;
  bool create = true;
  int busy_timeout_ms = 5000;
};

// An open database connection with a cache of prepared statements keyed by their SQL.
class connection {
 public:
  connection(const std::string& path, open_options options = {});
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  // Runs one or more statements that return no rows.
  void exec(std::string_view sql);
  // Runs one statement that returns no rows through the statement cache (BEGIN, COMMIT,
  // SAVEPOINT ...: prepared once, not for every transaction as exec() would).
  void run(std::string_view sql) { prepare(sql).run(); }
  // The cached prepared statement for `sql`, reset and ready to bind.
  statement& prepare(std::string_view sql);
  // The rowid of the last INSERT on this connection.
  std::int64_t last_insert_rowid() const;
  // Rows changed by the last statement.
  int changes() const;
  // Writes `pieces` one after another into the blob at table.column of row `rowid`
  // (incremental blob I/O: a large body is never assembled in one buffer).
  void write_blob(const char* table, const char* column, std::int64_t rowid,
                  std::initializer_list<std::string_view> pieces);
  // How long a statement waits for another connection's lock before SQLITE_BUSY.
  void set_busy_timeout(std::chrono::milliseconds timeout);
  // Whether a transaction is open (SQLite may roll one back by itself after an error).
  bool in_transaction() const;
  // The raw handle, for the rare call this wrapper does not cover.
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  // Looked up by string_view without building a std::string for every statement run.
  struct sql_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  std::unordered_map<std::string, statement, sql_hash, std::equal_to<>> cache_;
};

// A transaction: BEGIN IMMEDIATE in the constructor, ROLLBACK in the destructor unless
// commit() was called.
class transaction {
 public:
  explicit transaction(connection& db);
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  ~transaction();
  // Commits; throws db::error if the commit fails (the transaction is then rolled back).
  void commit();

 private:
  connection& db_;
  bool done_ = false;
};

}  // namespace missive::db
