// A thin RAII layer over libpq, shaped like the SQLite one (common/db.hpp) so the store's
// SQL reads the same on both: connections, cached prepared statements, transactions.
// Statements are written with SQLite's numbered parameters (?1, ?2), turned into $1, $2
// when prepared. Results come in libpq's binary format: text and bytea columns are their
// bytes as they are, integers are decoded by their type. Failures throw pg::error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace missive::pg {

// A failed libpq call: what was being done, PostgreSQL's message and its SQLSTATE.
class error : public std::runtime_error {
 public:
  error(const std::string& what, std::string sqlstate, bool connection_lost)
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)), lost_(connection_lost) {}
  // The five-character SQLSTATE ("23505"), empty when the server sent none.
  const std::string& sqlstate() const { return sqlstate_; }
  // The connection is gone (or was never made): nothing on it can be trusted any more.
  bool connection_lost() const { return lost_; }

 private:
  std::string sqlstate_;
  bool lost_;
};

class connection;

// A prepared statement: bind parameters, run it, step through its rows.
class statement {
 public:
  statement(connection& db, std::string name, std::string sql);
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement();

  // Binds parameters by 1-based index (copied).
  statement& bind(int index, std::int64_t value);
  statement& bind(int index, std::string_view text);
  statement& bind_blob(int index, std::string_view bytes);
  statement& bind_null(int index);

  // The first step runs the statement; true while a row is ready.
  bool step();
  // Runs a statement whose rows are not wanted, then resets it.
  void run();
  // Pipeline mode (see pipeline below): send() queues the statement with its parameters
  // without waiting; receive() later takes its answer (in the order sent), after which the
  // rows are read with step() as usual. Throws error for a failed statement, or one the
  // server skipped because an earlier one in the pipeline failed.
  void send();
  void receive();
  // Forgets the result and the bindings, ready to run again.
  void reset();
  // Steps once and resets: the first column of the first row, unless none or NULL.
  std::optional<std::int64_t> single_int();
  // Rows the last run changed (INSERT, UPDATE, DELETE).
  int changes() const { return changes_; }

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  // A view of a text or bytea column, valid until the next reset.
  std::string_view column_view(int index) const;
  bool column_is_null(int index) const;

 private:
  friend class pipeline;
  struct parameter_arrays {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
  };
  parameter_arrays pack_parameters();
  void execute();
  // Keeps a result (throwing error for a failed one) and counts the rows it changed.
  void take_result(pg_result* result);
  struct parameter {
    std::optional<std::string> value;
    bool binary = false;
  };
  connection& db_;
  std::string name_;
  std::string sql_;
  int parameter_count_ = 0;  // the highest ?N in the SQL: unbound ones are NULL
  bool prepared_ = false;
  int preparing_ = 0;  // PREPAREs sent in a pipeline whose answers are not yet received
  std::vector<parameter> parameters_;
  pg_result* result_ = nullptr;
  int row_ = -1;  // the row step() made current; -1 before the first
  int changes_ = 0;
};

// An open connection with a cache of prepared statements keyed by their SQL.
class connection {
 public:
  // Connects with a libpq connection string or URI, naming itself `application_name` (as
  // pg_stat_activity shows it) unless empty; throws error when it cannot.
  explicit connection(const std::string& conninfo, const std::string& application_name = {});
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  // Runs one or more statements that return no rows (no parameters).
  void exec(std::string_view sql);
  // Runs one statement that returns no rows through the statement cache.
  void run(std::string_view sql) { prepare(sql).run(); }
  // The cached prepared statement for `sql`, reset and ready to bind.
  statement& prepare(std::string_view sql);
  // Rows the last statement run on this connection changed.
  int changes() const { return changes_; }
  // Whether the connection is still up.
  bool ok() const;
  // Whether a transaction is open (also one that failed and awaits its rollback).
  bool in_transaction() const;
  // The raw handle, for LISTEN/NOTIFY and the rare call this wrapper does not cover.
  pg_conn* handle() const { return conn_; }
  // Returns a successful result; throws error for a failed one (freeing it), naming `what`.
  pg_result* check(pg_result* result, const char* what) const;
  // Closes the connection (ok() is false afterwards), when its state cannot be trusted.
  void abandon();

 private:
  friend class statement;
  friend class pipeline;
  pg_conn* conn_ = nullptr;
  int next_name_ = 0;
  int changes_ = 0;
  struct sql_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  std::unordered_map<std::string, std::unique_ptr<statement>, sql_hash, std::equal_to<>> cache_;
};

// libpq's pipeline mode, for the life of the object: statements are sent (statement::send)
// without waiting for their answers, so a batch of them costs one round trip instead of one
// each. sync() ends the batch (a Sync message) and sends everything; after the answers are
// received, finish() checks that the Sync's own answer comes last. If a statement fails, the
// server skips the rest up to the Sync. The destructor reads whatever answers are left and
// leaves pipeline mode, so the connection is as before (or closed, if that fails).
class pipeline {
 public:
  explicit pipeline(connection& db);
  pipeline(const pipeline&) = delete;
  pipeline& operator=(const pipeline&) = delete;
  ~pipeline();
  void sync();
  void finish();

 private:
  // Reads and drops answers up to and including the Sync's.
  void skip_to_sync();
  connection& db_;
  bool synced_ = false;
  bool finished_ = false;
};

// A transaction: BEGIN in the constructor, ROLLBACK in the destructor unless committed.
class transaction {
 public:
  explicit transaction(connection& db);
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  ~transaction();
  // Commits; throws error if the commit fails (nothing was committed then).
  void commit();

 private:
  connection& db_;
  bool done_ = false;
};

}  // namespace missive::pg
