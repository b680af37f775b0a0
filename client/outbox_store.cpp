// The outbox: see outbox_store.hpp.
#include "outbox_store.hpp"

#include <chrono>

#include "outbox_policy.hpp"
#include "unix_time.hpp"

namespace missive::client {

outbox_store::outbox_store(local_store& store) : db_(store.db()), me_(this_process()) {}

std::int64_t outbox_store::add(const submission& message, const std::string& error) {
  const std::int64_t now = now_unix();
  db::transaction txn(db_);
  db_.prepare("INSERT INTO outbox (queued_at, sender, content, attempts, last_attempt_at, "
              "last_error) VALUES (?1, ?2, ?3, 1, ?1, ?4)")
      .bind(1, now)
      .bind(2, message.sender)
      .bind_blob(3, message.content)
      .bind(4, error)
      .run();
  const std::int64_t id = db_.last_insert_rowid();
  for (std::size_t i = 0; i < message.recipients.size(); ++i) {
    db_.prepare("INSERT INTO outbox_recipients (message_id, position, address) VALUES (?1, ?2, ?3)")
        .bind(1, id)
        .bind(2, static_cast<std::int64_t>(i))
        .bind(3, message.recipients[i])
        .run();
  }
  txn.commit();
  return id;
}

std::vector<outbox_entry> outbox_store::list() {
  const std::int64_t now = now_unix();
  auto& stmt = db_.prepare(
      "SELECT id, queued_at, sender, length(content), attempts, last_attempt_at, last_error, "
      "state, claim_host, claim_pid, claim_start, claimed_at FROM outbox ORDER BY id");
  std::vector<outbox_entry> out;
  while (stmt.step()) {
    outbox_entry e;
    e.id = stmt.column_int(0);
    e.queued_at = stmt.column_int(1);
    e.sender = stmt.column_text(2);
    e.size = stmt.column_int(3);
    e.attempts = stmt.column_int(4);
    e.last_attempt_at = stmt.column_int(5);
    e.last_error = stmt.column_text(6);
    e.state = stmt.column_text(7);
    if (!stmt.column_is_null(8)) {
      process_identity holder{stmt.column_text(8), stmt.column_int(9), stmt.column_int(10)};
      claim_state claim{true, holder.host == me_.host, process_alive(holder), stmt.column_int(11)};
      e.being_sent = !claim_is_free(claim, now);
    }
    out.push_back(std::move(e));
  }
  stmt.reset();
  for (auto& e : out) {
    auto& rcpt = db_.prepare(
        "SELECT address FROM outbox_recipients WHERE message_id = ?1 ORDER BY position");
    rcpt.bind(1, e.id);
    while (rcpt.step()) e.recipients.push_back(rcpt.column_text(0));
    rcpt.reset();
  }
  return out;
}

bool outbox_store::remove(std::int64_t id) {
  db::transaction txn(db_);
  db_.prepare("DELETE FROM outbox WHERE id = ?1").bind(1, id).run();
  const bool removed = db_.changes() == 1;
  txn.commit();
  return removed;
}

std::optional<claimed_message> outbox_store::claim_next(
    std::int64_t after, const std::function<bool(std::int64_t, std::int64_t)>& due) {
  const std::int64_t now = now_unix();
  // BEGIN IMMEDIATE: the look and the claim are one step for every client on this store.
  db::transaction txn(db_);
  auto& stmt = db_.prepare(
      "SELECT id, attempts, last_attempt_at, claim_host, claim_pid, claim_start, claimed_at "
      "FROM outbox WHERE state = 'queued' AND id > ?1 ORDER BY id");
  stmt.bind(1, after);
  std::optional<std::int64_t> chosen;
  while (stmt.step()) {
    claim_state claim;
    if (!stmt.column_is_null(3)) {
      process_identity holder{stmt.column_text(3), stmt.column_int(4), stmt.column_int(5)};
      claim = {true, holder.host == me_.host, process_alive(holder), stmt.column_int(6)};
    }
    if (!claim_is_free(claim, now)) continue;
    if (!due(stmt.column_int(1), stmt.column_int(2))) continue;
    chosen = stmt.column_int(0);
    break;
  }
  stmt.reset();
  if (!chosen) return std::nullopt;
  db_.prepare("UPDATE outbox SET claim_host = ?2, claim_pid = ?3, claim_start = ?4, "
              "claimed_at = ?5 WHERE id = ?1")
      .bind(1, *chosen)
      .bind(2, me_.host)
      .bind(3, me_.pid)
      .bind(4, me_.start)
      .bind(5, now)
      .run();
  claimed_message out;
  out.id = *chosen;
  auto& row = db_.prepare("SELECT sender, content FROM outbox WHERE id = ?1");
  row.bind(1, *chosen);
  row.step();
  out.message.sender = row.column_text(0);
  out.message.content = std::string(row.column_view(1));
  row.reset();
  auto& rcpt = db_.prepare(
      "SELECT address FROM outbox_recipients WHERE message_id = ?1 ORDER BY position");
  rcpt.bind(1, *chosen);
  while (rcpt.step()) out.message.recipients.push_back(rcpt.column_text(0));
  rcpt.reset();
  txn.commit();
  return out;
}

void outbox_store::sent(std::int64_t id) {
  db::transaction txn(db_);
  db_.prepare("DELETE FROM outbox WHERE id = ?1").bind(1, id).run();
  txn.commit();
}

void outbox_store::failed(std::int64_t id, const std::string& error, bool refused) {
  db::transaction txn(db_);
  db_.prepare("UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?2, last_error = ?3, "
              "state = ?4, claim_host = NULL, claim_pid = NULL, claim_start = NULL, "
              "claimed_at = NULL WHERE id = ?1")
      .bind(1, id)
      .bind(2, now_unix())
      .bind(3, error)
      .bind(4, refused ? "refused" : "queued")
      .run();
  txn.commit();
}

std::int64_t outbox_store::waiting() {
  return db_.prepare("SELECT count(*) FROM outbox WHERE state = 'queued'").single_int().value_or(0);
}

}  // namespace missive::client
