// SQLite RAII wrapper: see db.hpp.
#include "db.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

namespace missive::db {

namespace {

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view what) {
  const char* message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw error(fmt::format("{}: {}", what, message), rc);
}

}  // namespace

statement::statement(sqlite3* handle, std::string_view sql) {
  int rc = sqlite3_prepare_v3(handle, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(handle, rc, fmt::format("prepare '{}'", sql));
}

statement::statement(statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }

statement& statement::operator=(statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

statement::~statement() { sqlite3_finalize(stmt_); }

void statement::check(int rc, const char* what) const {
  if (rc != SQLITE_OK) fail(sqlite3_db_handle(stmt_), rc, what);
}

statement& statement::bind(int index, std::int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

statement& statement::bind(int index, std::string_view text) {
  check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                            SQLITE_UTF8),
        "bind");
  return *this;
}

statement& statement::bind_blob(int index, std::string_view bytes) {
  // SQLITE_STATIC: the caller keeps the bytes alive until the statement is stepped,
  // which saves copying message bodies.
  check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC), "bind");
  return *this;
}

statement& statement::bind_zeroblob(int index, std::uint64_t size) {
  check(sqlite3_bind_zeroblob64(stmt_, index, size), "bind");
  return *this;
}

statement& statement::bind_null(int index) {
  check(sqlite3_bind_null(stmt_, index), "bind");
  return *this;
}

bool statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  sqlite3_reset(stmt_);
  fail(db, rc, fmt::format("step '{}'", sql));
}

void statement::run() {
  while (step()) {
  }
  reset();
}

void statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::optional<std::int64_t> statement::single_int() {
  std::optional<std::int64_t> value;
  if (step() && !column_is_null(0)) value = column_int(0);
  reset();
  return value;
}

std::int64_t statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string statement::column_text(int index) const { return std::string(column_view(index)); }

std::string_view statement::column_view(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr) return {};
  return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
}

bool statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

namespace {

// Process-wide settings, before SQLite initializes itself at the first open.
void configure_sqlite_once() {
  static const bool configured = [] {
    // No allocation statistics: they put a global mutex around every SQLite malloc, which
    // the writer and reader threads then take turns on. (Nothing here reads them.)
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}

}  // namespace

connection::connection(const std::string& path, open_options options) {
  configure_sqlite_once();
  int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (options.create && !options.read_only) flags |= SQLITE_OPEN_CREATE;
  // Each connection is used by one thread at a time; SQLite's own mutexes are not needed.
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw error(fmt::format("open {}: {}", path, message), rc);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, options.busy_timeout_ms);
}

connection::~connection() {
  cache_.clear();  // statements must be finalized before the connection closes
  sqlite3_close_v2(db_);
}

void connection::exec(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string what = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw error(fmt::format("exec: {}", what), rc);
  }
}

statement& connection::prepare(std::string_view sql) {
  auto found = cache_.find(sql);
  if (found == cache_.end()) {
    found = cache_.emplace(std::string(sql), statement(db_, sql)).first;
  } else {
    found->second.reset();
  }
  return found->second;
}

std::int64_t connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int connection::changes() const { return sqlite3_changes(db_); }

void connection::write_blob(const char* table, const char* column, std::int64_t rowid,
                            std::initializer_list<std::string_view> pieces) {
  sqlite3_blob* blob = nullptr;
  int rc = sqlite3_blob_open(db_, "main", table, column, rowid, 1, &blob);
  int offset = 0;
  for (auto piece : pieces) {
    if (rc != SQLITE_OK) break;
    rc = sqlite3_blob_write(blob, piece.data(), static_cast<int>(piece.size()), offset);
    offset += static_cast<int>(piece.size());
  }
  std::string message = rc == SQLITE_OK ? "" : sqlite3_errmsg(db_);
  int closed = sqlite3_blob_close(blob);
  if (rc == SQLITE_OK && closed != SQLITE_OK) {
    rc = closed;
    message = sqlite3_errmsg(db_);
  }
  if (rc != SQLITE_OK) throw error(fmt::format("write blob {}.{}: {}", table, column, message), rc);
}

void connection::set_busy_timeout(std::chrono::milliseconds timeout) {
  sqlite3_busy_timeout(db_, static_cast<int>(timeout.count()));
}

bool connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

// Extended result codes are on: the primary code is the low byte.
bool error::disk_full() const { return (code_ & 0xff) == SQLITE_FULL; }

transaction::transaction(connection& db) : db_(db) { db_.run("BEGIN IMMEDIATE"); }

transaction::~transaction() {
  if (!done_) {
    try {
      db_.run("ROLLBACK");
    } catch (const error&) {
      // A failed commit may already have rolled back; nothing more to undo.
    }
  }
}

void transaction::commit() {
  db_.run("COMMIT");
  done_ = true;
}

}  // namespace missive::db
