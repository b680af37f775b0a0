// libpq connections, statements and transactions: see pg_connection.hpp.
#include "pg_connection.hpp"

#include <libpq-fe.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace missive::pg {

namespace {

// Type OIDs of the integer columns (PostgreSQL's pg_type.dat).
constexpr Oid bool_oid = 16;
constexpr Oid int8_oid = 20;
constexpr Oid int2_oid = 21;
constexpr Oid int4_oid = 23;

// Statements are written with SQLite's ?N; PostgreSQL numbers its parameters $N. Quoted
// text and identifiers are left alone. `count` gets the highest N.
std::string numbered_parameters(std::string_view sql, int& count) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  count = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?') {
      c = '$';
      int n = 0;
      for (std::size_t j = i + 1; j < sql.size() && sql[j] >= '0' && sql[j] <= '9'; ++j) {
        n = n * 10 + (sql[j] - '0');
      }
      count = std::max(count, n);
    }
    out.push_back(c);
  }
  return out;
}

std::int64_t big_endian(const char* bytes, int length) {
  std::uint64_t value = 0;
  for (int i = 0; i < length; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  // Sign-extend the narrower types.
  int shift = 64 - 8 * length;
  return shift > 0 ? static_cast<std::int64_t>(value << shift) >> shift
                   : static_cast<std::int64_t>(value);
}

std::string message_of(PGconn* conn, PGresult* result) {
  const char* text = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  std::string message = text != nullptr ? text : "";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message.empty() ? "no answer from the server" : message;
}

}  // namespace

statement::statement(connection& db, std::string name, std::string sql)
    : db_(db), name_(std::move(name)) {
  sql_ = numbered_parameters(sql, parameter_count_);
}

statement::~statement() {
  if (result_ != nullptr) PQclear(result_);
}

statement& statement::bind(int index, std::int64_t value) {
  return bind(index, std::string_view(std::to_string(value)));
}

statement& statement::bind(int index, std::string_view text) {
  if (parameters_.size() < static_cast<std::size_t>(index)) parameters_.resize(index);
  parameters_[index - 1] = {std::string(text), false};
  return *this;
}

statement& statement::bind_blob(int index, std::string_view bytes) {
  if (parameters_.size() < static_cast<std::size_t>(index)) parameters_.resize(index);
  parameters_[index - 1] = {std::string(bytes), true};
  return *this;
}

statement& statement::bind_null(int index) {
  if (parameters_.size() < static_cast<std::size_t>(index)) parameters_.resize(index);
  parameters_[index - 1] = {std::nullopt, false};
  return *this;
}

statement::parameter_arrays statement::pack_parameters() {
  if (parameters_.size() < static_cast<std::size_t>(parameter_count_)) {
    parameters_.resize(parameter_count_);
  }
  parameter_arrays packed;
  packed.values.resize(parameters_.size());
  packed.lengths.resize(parameters_.size());
  packed.formats.resize(parameters_.size());
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const auto& p = parameters_[i];
    packed.values[i] = p.value ? p.value->data() : nullptr;
    packed.lengths[i] = p.value ? static_cast<int>(p.value->size()) : 0;
    packed.formats[i] = p.binary ? 1 : 0;
  }
  return packed;
}

void statement::take_result(PGresult* result) {
  result_ = db_.check(result, "run a statement");
  const char* tuples = PQcmdTuples(result);
  changes_ = tuples != nullptr && *tuples != '\0' ? std::atoi(tuples) : 0;
  db_.changes_ = changes_;
}

void statement::execute() {
  PGconn* conn = db_.handle();
  if (!prepared_) {
    PQclear(db_.check(PQprepare(conn, name_.c_str(), sql_.c_str(), 0, nullptr), "prepare"));
    prepared_ = true;
  }
  auto packed = pack_parameters();
  take_result(PQexecPrepared(conn, name_.c_str(), static_cast<int>(packed.values.size()),
                             packed.values.data(), packed.lengths.data(),
                             packed.formats.data(), 1));
}

void statement::send() {
  PGconn* conn = db_.handle();
  if (!prepared_ && PQpipelineStatus(conn) == PQ_PIPELINE_OFF) {
    // Alone, a statement waits for its answer before the next is sent.
    PQclear(db_.check(PQprepare(conn, name_.c_str(), sql_.c_str(), 0, nullptr), "prepare"));
    prepared_ = true;
  }
  if (!prepared_) {
    if (PQsendPrepare(conn, name_.c_str(), sql_.c_str(), 0, nullptr) != 1) {
      db_.check(nullptr, "send a statement");
    }
    prepared_ = true;  // so that the batch's next use of it does not prepare it again
    ++preparing_;
  }
  auto packed = pack_parameters();
  if (PQsendQueryPrepared(conn, name_.c_str(), static_cast<int>(packed.values.size()),
                          packed.values.data(), packed.lengths.data(), packed.formats.data(),
                          1) != 1) {
    db_.check(nullptr, "send a statement");
  }
  parameters_.clear();
}

void statement::receive() {
  PGconn* conn = db_.handle();
  if (result_ != nullptr) reset();
  // In a pipeline each answer is followed by a null result that ends it.
  if (preparing_ > 0) {
    --preparing_;
    PGresult* prepared = PQgetResult(conn);
    if (prepared == nullptr || PQresultStatus(prepared) != PGRES_COMMAND_OK) prepared_ = false;
    PQclear(db_.check(prepared, "prepare"));
    PQclear(PQgetResult(conn));
  }
  take_result(PQgetResult(conn));
  PQclear(PQgetResult(conn));
}

bool statement::step() {
  if (result_ == nullptr) execute();
  ++row_;
  return row_ < PQntuples(result_);
}

void statement::run() {
  execute();
  reset();
}

void statement::reset() {
  if (result_ != nullptr) PQclear(result_);
  result_ = nullptr;
  row_ = -1;
  parameters_.clear();
}

std::optional<std::int64_t> statement::single_int() {
  std::optional<std::int64_t> value;
  if (step() && !column_is_null(0)) value = column_int(0);
  reset();
  return value;
}

std::int64_t statement::column_int(int index) const {
  const char* bytes = PQgetvalue(result_, row_, index);
  int length = PQgetlength(result_, row_, index);
  switch (PQftype(result_, index)) {
    case int8_oid:
    case int4_oid:
    case int2_oid:
    case bool_oid:
      return big_endian(bytes, length);
    default: {
      // A text column holding a number.
      std::int64_t value = 0;
      auto [end, ec] = std::from_chars(bytes, bytes + length, value);
      if (ec != std::errc() || end != bytes + length) {
        throw error(fmt::format("column {} is not an integer", index), "", false);
      }
      return value;
    }
  }
}

std::string statement::column_text(int index) const { return std::string(column_view(index)); }

std::string_view statement::column_view(int index) const {
  return {PQgetvalue(result_, row_, index),
          static_cast<std::size_t>(PQgetlength(result_, row_, index))};
}

bool statement::column_is_null(int index) const {
  return PQgetisnull(result_, row_, index) != 0;
}

connection::connection(const std::string& conninfo, const std::string& application_name) {
  // expand_dbname: `dbname` holds the whole connection string or URI; the name is added.
  const char* keys[] = {"dbname", application_name.empty() ? nullptr : "application_name",
                        nullptr};
  const char* values[] = {conninfo.c_str(), application_name.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = message_of(conn_, nullptr);
    PQfinish(conn_);
    conn_ = nullptr;
    throw error("cannot connect to PostgreSQL: " + message, "08001", true);
  }
  // Notices (a NOTICE from CREATE ... IF NOT EXISTS) are not for the log.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  // The store's statements are short and run thousands of times: planned once, not for
  // every execution (PostgreSQL plans each of a statement's first five runs anew).
  exec("SET plan_cache_mode = force_generic_plan");
}

connection::~connection() {
  cache_.clear();
  if (conn_ != nullptr) PQfinish(conn_);
}

void connection::exec(std::string_view sql) {
  PQclear(check(PQexec(conn_, std::string(sql).c_str()), "run SQL"));
}

statement& connection::prepare(std::string_view sql) {
  auto found = cache_.find(sql);
  if (found == cache_.end()) {
    auto made = std::make_unique<statement>(*this, fmt::format("s{}", next_name_++),
                                            std::string(sql));
    found = cache_.emplace(std::string(sql), std::move(made)).first;
  }
  found->second->reset();
  return *found->second;
}

bool connection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

bool connection::in_transaction() const {
  auto status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

PGresult* connection::check(PGresult* result, const char* what) const {
  auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  std::string message = message_of(conn_, result);
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state != nullptr ? state : "";
  if (result != nullptr) PQclear(result);
  bool lost = PQstatus(conn_) != CONNECTION_OK;
  throw error(fmt::format("cannot {}: {}", what, message), lost && sqlstate.empty() ? "08006" : sqlstate,
              lost);
}

void connection::abandon() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

pipeline::pipeline(connection& db) : db_(db) {
  if (PQenterPipelineMode(db_.handle()) != 1) db_.check(nullptr, "enter pipeline mode");
}

void pipeline::sync() {
  synced_ = true;
  // Sends the Sync and flushes everything queued (blocking libpq reads answers while it
  // waits to write, so a long batch cannot deadlock against a server waiting to write).
  if (PQpipelineSync(db_.handle()) != 1) db_.check(nullptr, "send a pipeline");
}

void pipeline::finish() {
  PGresult* result = PQgetResult(db_.handle());
  bool at_sync = result != nullptr && PQresultStatus(result) == PGRES_PIPELINE_SYNC;
  PQclear(result);
  if (!at_sync) db_.check(nullptr, "end a pipeline");
  finished_ = true;
}

void pipeline::skip_to_sync() {
  PGconn* conn = db_.handle();
  // Between two answers stands one null result; two in a row mean nothing more will come.
  int nulls = 0;
  while (db_.ok() && nulls < 2) {
    PGresult* result = PQgetResult(conn);
    if (result == nullptr) {
      ++nulls;
      continue;
    }
    nulls = 0;
    bool at_sync = PQresultStatus(result) == PGRES_PIPELINE_SYNC;
    PQclear(result);
    if (at_sync) return;
  }
}

pipeline::~pipeline() {
  if (!db_.ok()) return;
  if (!finished_) {
    if (!synced_) PQpipelineSync(db_.handle());
    skip_to_sync();
  }
  if (PQexitPipelineMode(db_.handle()) != 1) {
    db_.abandon();  // answers we cannot account for: start afresh
    return;
  }
  try {
    if (db_.in_transaction()) db_.run("ROLLBACK");
    // A statement prepared in a pipeline that failed may or may not exist on the server
    // (the server skips the rest of a pipeline after a failure): make sure it does not.
    for (auto& [sql, statement] : db_.cache_) {
      if (statement->preparing_ == 0) continue;
      statement->preparing_ = 0;
      statement->prepared_ = false;
      PQclear(PQexec(db_.handle(), ("DEALLOCATE " + statement->name_).c_str()));
    }
  } catch (const error&) {
    db_.abandon();
  }
}

transaction::transaction(connection& db) : db_(db) { db_.run("BEGIN"); }

transaction::~transaction() {
  if (done_ || !db_.ok()) return;
  try {
    db_.run("ROLLBACK");
  } catch (...) {
    // Nothing more to undo: a failed ROLLBACK leaves nothing committed either.
  }
}

void transaction::commit() {
  done_ = true;
  // COMMIT of a transaction a statement failed in "succeeds" by rolling back.
  if (PQtransactionStatus(db_.handle()) == PQTRANS_INERROR) {
    db_.run("ROLLBACK");
    throw error("cannot commit: a statement of the transaction failed", "25P02", false);
  }
  db_.run("COMMIT");
}

}  // namespace missive::pg
