// The queue's SQL: see queue_store.hpp.
#include "queue_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "ascii.hpp"
#include "bounce_message.hpp"
#include "db.hpp"
#include "delivery_headers.hpp"
#include "message_headers.hpp"
#include "pg_connection.hpp"
#include "queue_id.hpp"
#include "recipient_fate.hpp"
#include "sql_dialect.hpp"
#include "user_store.hpp"

namespace missive {

namespace {

// Messages up to this size are copied into one piece to be stored (see insert_message).
constexpr std::size_t copied_message_limit = 64 * 1024;

// How long mail for a postmaster without a mailbox waits before it is looked at again.
constexpr std::chrono::seconds postmaster_retry{60};

// The queue's times are whole unix seconds: a recipient is due once the scheduler's clock
// has reached its time.
std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Puts a recipient's message in a user's maildrop: the recipient row names the user (see
// the view mailbox_entry for the POP3 unique-id).
template <class Db>
void put_in_mailbox(Db& db, std::int64_t recipient_id, std::int64_t user_id) {
  db.prepare("UPDATE recipient SET mailbox_user_id = ?2 WHERE id = ?1")
      .bind(1, recipient_id)
      .bind(2, user_id)
      .run();
}

// The user a local recipient is delivered to: its mailbox, else its own address.
std::string_view mailbox_of(const incoming_recipient& recipient) {
  return recipient.mailbox.empty() ? recipient.address : recipient.mailbox;
}

std::chrono::system_clock::time_point from_unix(std::int64_t seconds) {
  return std::chrono::system_clock::from_time_t(static_cast<std::time_t>(seconds));
}

template <class Db>
void add_event(Db& db, std::int64_t message_id, std::string_view recipient,
               std::string_view kind, std::string_view detail) {
  auto& insert = db.prepare(
      "INSERT INTO event(message_id, at, recipient, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
  insert.bind(1, message_id).bind(2, unix_now());
  if (recipient.empty()) insert.bind_null(3);
  else insert.bind(3, recipient);
  insert.bind(4, kind).bind(5, detail).run();
}

// A claimed remote recipient from a row of r.id, r.message_id, m.queue_id, m.sender,
// r.address, r.attempts, m.received_at, r.dsn_notify, r.dsn_orcpt, m.dsn_ret, m.dsn_envid,
// m.delay_warned (NULLs as '').
template <class Statement>
remote_recipient claimed_from_row(Statement& row) {
  remote_recipient r;
  r.id = row.column_int(0);
  r.message_id = row.column_int(1);
  r.queue_id = row.column_text(2);
  r.sender = row.column_text(3);
  r.address = row.column_text(4);
  r.attempts = row.column_int(5);
  r.received_at = row.column_int(6);
  r.notify = static_cast<std::uint8_t>(row.column_int(7));
  r.orcpt = row.column_text(8);
  r.ret = static_cast<dsn_return>(row.column_int(9));
  r.envid = row.column_text(10);
  r.delay_warned = row.column_int(11) != 0;
  return r;
}

// Records an attempt's result for a recipient still pending; false when it is not (the
// administrator deleted its message while the attempt was under way).
template <class Db>
bool set_state(Db& db, std::int64_t recipient_id, std::string_view state,
               std::string_view reply, std::int64_t next_attempt_at) {
  // The claim ends with the attempt: the SQLite flag, or the PostgreSQL lease.
  db.prepare(dialect<Db>(
                 "UPDATE recipient SET state = ?2, attempts = attempts + 1, last_reply = ?3, "
                 "last_attempt_at = ?4, next_attempt_at = ?5, in_flight = 0 "
                 "WHERE id = ?1 AND state IN ('queued', 'deferred')",
                 "UPDATE recipient SET state = ?2, attempts = attempts + 1, last_reply = ?3, "
                 "last_attempt_at = ?4, next_attempt_at = ?5, lease_node = NULL, "
                 "lease_until = NULL WHERE id = ?1 AND state IN ('queued', 'deferred')"))
      .bind(1, recipient_id)
      .bind(2, state)
      .bind(3, reply)
      .bind(4, unix_now())
      .bind(5, next_attempt_at)
      .run();
  return db.changes() == 1;
}

bool is_local_address(const queue_policy& policy, std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string domain = lowercase_ascii(address.substr(at + 1));
  return std::find(policy.local_domains.begin(), policy.local_domains.end(), domain) !=
         policy.local_domains.end();
}

// Notes in a message's history that it lost recipients but is from <>: RFC 5321 6.1, no
// bounce for a bounce.
template <class Db>
void suppress_bounce(Db& db, std::int64_t message_id) {
  add_event(db, message_id, "", "bounce_suppressed", "the sender is <>: no bounce for a bounce");
}

// Sends the envelope sender one DSN for recipients of a message (RFC 3464): given up on
// (the bounce), late, delivered or relayed, as each given_up's action says (one kind per
// DSN). Nothing for a message from <> (RFC 5321 6.1: never bounce a bounce). The message's
// RET and ENVID (RFC 3461) shape it. Appends to `outcomes` the notification and the DSN's
// delivery, when its recipient is local.
template <class Db>
void bounce(Db& db, std::int64_t message_id, const std::vector<given_up>& failed,
            std::chrono::system_clock::time_point now,
            const queue_policy& policy, std::vector<delivery_outcome>& outcomes) {
  if (failed.empty()) return;
  auto& query = db.prepare(
      "SELECT queue_id, sender, received_at, body, dsn_ret, dsn_envid FROM message WHERE id = ?1");
  query.bind(1, message_id);
  if (!query.step()) {
    query.reset();
    return;
  }
  std::string queue_id = query.column_text(0);
  std::string sender = query.column_text(1);
  std::int64_t received_at = query.column_int(2);
  std::string original(query.column_view(3));
  auto ret = static_cast<dsn_return>(query.column_int(4));
  std::string envid = query.column_is_null(5) ? std::string() : query.column_text(5);
  query.reset();
  if (sender.empty()) {
    suppress_bounce(db, message_id);
    return;
  }
  bounce_details details;
  details.reporting_mta = policy.hostname;
  details.queue_id = queue_id;
  details.original_sender = sender;
  details.arrival = from_unix(received_at);
  details.now = now;
  details.envid = envid;
  details.return_full = ret == dsn_return::full;
  for (const auto& f : failed) {
    details.recipients.push_back({f.address, f.status, f.diagnostic, f.remote_reply, details.now,
                                  f.action, f.original_recipient});
  }
  details.original_message = original;
  std::string bounce_id = make_queue_id();
  details.message_id = fmt::format("<{}.bounce@{}>", bounce_id, policy.hostname);
  details.boundary = fmt::format("{}=_missive-report", bounce_id);

  incoming_message dsn;
  dsn.queue_id = bounce_id;
  dsn.sender = "";
  dsn.client = "MAILER-DAEMON";
  dsn.body = compose_bounce(details);
  dsn.recipients.push_back({sender, is_local_address(policy, sender)});
  auto delivered = insert_message(db, dsn);
  std::string_view kind = "bounced";
  switch (failed.front().action) {
    case dsn_action::failed: break;
    case dsn_action::delayed: kind = "delay_notified"; break;
    case dsn_action::delivered: kind = "success_notified"; break;
    case dsn_action::relayed: kind = "relay_notified"; break;
  }
  add_event(db, message_id, "", kind, fmt::format("DSN {} sent to <{}>", bounce_id, sender));
  // The relay field names the kind of a DSN that is not a bounce, for its log line.
  outcomes.push_back({queue_id, sender, kind == "bounced" ? "" : std::string(kind), "notified", 0,
                      0, bounce_id});
  outcomes.insert(outcomes.end(), delivered.begin(), delivered.end());
}

// The one "delayed" DSN of a message (RFC 3461, [queue] delay_warning), for its recipients
// still pending whose NOTIFY asks for DELAY; the message is marked so that it is sent once
// only, by whichever node gets there first.
template <class Db>
void warn_of_delay(Db& db, std::int64_t message_id, std::chrono::system_clock::time_point now,
                   const queue_policy& policy, std::vector<delivery_outcome>& outcomes) {
  db.prepare("UPDATE message SET delay_warned = 1 WHERE id = ?1 AND delay_warned = 0")
      .bind(1, message_id)
      .run();
  if (db.changes() != 1) return;
  auto& pending = db.prepare(
      "SELECT address, dsn_notify, dsn_orcpt, last_reply FROM recipient "
      "WHERE message_id = ?1 AND state IN ('queued', 'deferred') ORDER BY id");
  pending.bind(1, message_id);
  std::vector<given_up> late;
  while (pending.step()) {
    auto notify = static_cast<std::uint8_t>(pending.column_int(1));
    if (!notify_wants(notify, dsn_event::delay)) continue;
    std::string reply = pending.column_is_null(3) ? std::string() : pending.column_text(3);
    given_up g{pending.column_text(0), status_of(reply, false), reply, false, dsn_action::delayed,
               pending.column_is_null(2) ? std::string() : pending.column_text(2)};
    late.push_back(std::move(g));
  }
  pending.reset();
  if (late.empty()) {
    add_event(db, message_id, "", "delay_warning_not_asked", "no pending recipient asked for DELAY");
    return;
  }
  bounce(db, message_id, late, now, policy, outcomes);
}

// Frees the body of a message nothing needs any more (every recipient done, no mailbox holds
// it); the row and its event history stay for `queue show`.
template <class Db>
void retire_if_finished(Db& db, std::int64_t message_id) {
  db.prepare(dialect<Db>(
                 "UPDATE message SET body = x'' WHERE id = ?1 AND length(body) > 0 "
                 "AND NOT EXISTS (SELECT 1 FROM recipient WHERE message_id = ?1 "
                 "  AND (state IN ('queued', 'deferred') OR mailbox_user_id IS NOT NULL))",
                 "UPDATE message SET body = ''::bytea WHERE id = ?1 AND length(body) > 0 "
                 "AND NOT EXISTS (SELECT 1 FROM recipient WHERE message_id = ?1 "
                 "  AND (state IN ('queued', 'deferred') OR mailbox_user_id IS NOT NULL))"))
      .bind(1, message_id)
      .run();
}

// A PostgreSQL array literal of texts: each element quoted, with " and \ escaped.
std::string text_array(const std::vector<std::string_view>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// insert_message on PostgreSQL: the message, its recipients and their mailboxes in one
// statement, so one statement's overhead in the server (and at most one round trip) per
// message instead of two plus two per recipient. Same rows as the SQLite path.
constexpr const char* message_insert_sql =
      "WITH m AS (INSERT INTO message(queue_id, sender, size, received_at, client, body, "
      "                               dsn_ret, dsn_envid) "
      "           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?11, nullif(?12, '')) RETURNING id), "
      "given AS (SELECT g.address, g.is_local, g.n, NULLIF(g.mailbox, '') AS mailbox, "
      "                 NULLIF(g.sender, '') AS sender, g.notify, nullif(g.orcpt, '') AS orcpt, "
      "                 CASE WHEN g.is_local = 1 THEN (SELECT u.id FROM \"user\" u "
      "                      WHERE lower(u.address) = lower(COALESCE(NULLIF(g.mailbox, ''), "
      "                                                              g.address))) END AS user_id "
      "          FROM unnest(?7::text[], ?8::integer[], ?9::text[], ?10::text[], ?13::integer[], "
      "                      ?14::text[]) "
      "               WITH ORDINALITY AS g(address, is_local, mailbox, sender, notify, orcpt, n)) "
      "INSERT INTO recipient(message_id, address, is_local, state, attempts, next_attempt_at, "
      "                      last_attempt_at, last_reply, mailbox_user_id, mailbox, sender, "
      "                      dsn_notify, dsn_orcpt) "
      "SELECT m.id, g.address, g.is_local, "
      "       CASE WHEN g.user_id IS NULL THEN 'queued' ELSE 'delivered' END, "
      "       CASE WHEN g.user_id IS NULL THEN 0 ELSE 1 END, ?4, "
      "       CASE WHEN g.user_id IS NOT NULL THEN ?4::bigint END, "
      "       CASE WHEN g.user_id IS NOT NULL THEN '2.0.0 delivered to mailbox' END, g.user_id, "
      "       g.mailbox, g.sender, g.notify, g.orcpt "
      "FROM m, given g ORDER BY g.n "
      "RETURNING address, mailbox_user_id IS NOT NULL";

}  // namespace

void send_message_insert(pg::connection& db, const incoming_message& message) {
  auto size = static_cast<std::int64_t>(message.trace_headers.size() + message.body.size());
  auto& insert = db.prepare(message_insert_sql);
  std::vector<std::string_view> addresses, mailboxes, senders, orcpts;
  std::string local_flags = "{", notify_flags = "{";
  for (const auto& r : message.recipients) {
    addresses.push_back(r.address);
    mailboxes.push_back(r.mailbox);
    senders.push_back(r.sender);
    orcpts.push_back(r.orcpt);
    if (local_flags.size() > 1) local_flags += ',';
    local_flags += r.is_local ? '1' : '0';
    if (notify_flags.size() > 1) notify_flags += ',';
    notify_flags += std::to_string(r.notify);
  }
  local_flags += '}';
  notify_flags += '}';
  thread_local std::string whole;
  whole.assign(message.trace_headers).append(message.body);
  insert.bind(1, message.queue_id)
      .bind(2, message.sender)
      .bind(3, size)
      .bind(4, unix_now())
      .bind(5, message.client)
      .bind_blob(6, whole)
      .bind(7, text_array(addresses))
      .bind(8, local_flags)
      .bind(9, text_array(mailboxes))
      .bind(10, text_array(senders))
      .bind(11, static_cast<std::int64_t>(message.ret))
      .bind(12, message.envid)
      .bind(13, notify_flags)
      .bind(14, text_array(orcpts));
  insert.send();
}

std::vector<delivery_outcome> receive_message_insert(pg::connection& db,
                                                     const incoming_message& message) {
  auto& insert = db.prepare(message_insert_sql);
  insert.receive();
  std::vector<delivery_outcome> delivered;
  while (insert.step()) {
    if (insert.column_int(1) == 0) continue;
    delivered.push_back({message.queue_id, insert.column_text(0), "local", "sent", 0, 1,
                         "delivered to mailbox"});
  }
  insert.reset();
  return delivered;
}

std::int64_t unix_now() { return std::time(nullptr); }

template <class Db>
std::vector<delivery_outcome> insert_message(Db& db, const incoming_message& message) {
  if constexpr (on_postgres<Db>) {
    send_message_insert(db, message);
    return receive_message_insert(db, message);
  }
  auto size = static_cast<std::int64_t>(message.trace_headers.size() + message.body.size());
  auto& insert = db.prepare(
      "INSERT INTO message(queue_id, sender, size, received_at, client, body, dsn_ret, dsn_envid) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id");
  insert.bind(1, message.queue_id)
      .bind(2, message.sender)
      .bind(3, size)
      .bind(4, unix_now())
      .bind(5, message.client)
      .bind(7, static_cast<std::int64_t>(message.ret));
  if (message.envid.empty()) insert.bind_null(8);
  else insert.bind(8, message.envid);
  // A small message is bound in one piece, headers and body copied together (opening a
  // blob handle costs more than the copy). On SQLite a large one is written in place behind
  // a blob of zeros, so no second copy of up to 25 MiB is made.
  bool in_place = !on_postgres<Db> && static_cast<std::size_t>(size) > copied_message_limit;
  if constexpr (!on_postgres<Db>) {
    if (in_place) insert.bind_zeroblob(6, static_cast<std::uint64_t>(size));  // the last column
  }
  if (!in_place) {
    thread_local std::string whole;
    whole.assign(message.trace_headers).append(message.body);
    insert.bind_blob(6, whole);
  }
  insert.step();
  std::int64_t message_id = insert.column_int(0);
  insert.reset();
  if constexpr (!on_postgres<Db>) {
    if (in_place) {
      db.write_blob("message", "body", message_id, {message.trace_headers, message.body});
    }
  }
  // No 'accepted' event row: the view message_history derives it from the message row.
  auto& add_recipient = db.prepare(
      "INSERT INTO recipient(message_id, address, is_local, state, attempts, next_attempt_at, "
      "last_attempt_at, last_reply, mailbox_user_id, mailbox, sender, dsn_notify, dsn_orcpt) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  std::vector<delivery_outcome> delivered;
  for (const auto& recipient : message.recipients) {
    // Local delivery on arrival: in the transaction that stores the message, so it is as
    // atomic as a delivery by the scheduler (DESIGN: mailbox entry and state together),
    // costs no second transaction, and the message is in the mailbox when the client
    // hears 250. A recipient with no mailbox by now (postmaster, a user deleted since
    // RCPT) is queued, and the scheduler decides.
    std::optional<std::int64_t> user;
    if (recipient.is_local) user = find_user_id(db, mailbox_of(recipient));
    add_recipient.bind(1, message_id)
        .bind(2, recipient.address)
        .bind(3, std::int64_t{recipient.is_local})
        .bind(4, user ? "delivered" : "queued")
        .bind(5, user ? 1 : 0)
        .bind(6, unix_now())
        .bind(12, static_cast<std::int64_t>(recipient.notify));
    if (recipient.orcpt.empty()) add_recipient.bind_null(13);
    else add_recipient.bind(13, recipient.orcpt);
    if (user) {
      // In the maildrop from the start: the row is the mailbox entry.
      add_recipient.bind(7, unix_now()).bind(8, "2.0.0 delivered to mailbox").bind(9, *user);
    }
    if (recipient.mailbox.empty()) add_recipient.bind_null(10);
    else add_recipient.bind(10, recipient.mailbox);
    if (recipient.sender.empty()) add_recipient.bind_null(11);
    else add_recipient.bind(11, recipient.sender);
    add_recipient.run();
    if (!user) continue;
    delivered.push_back({message.queue_id, recipient.address, "local", "sent", 0, 1,
                         "delivered to mailbox"});
  }
  return delivered;
}

template <class Db>
std::vector<delivery_outcome> accept_message(Db& db, const incoming_message& message,
                                             const queue_policy& policy) {
  auto delivered = insert_message(db, message);
  if (message.sender.empty()) return delivered;
  // RFC 3461 4.1: local recipients that asked for SUCCESS are told of the delivery just made.
  std::vector<given_up> succeeded;
  for (const auto& outcome : delivered) {
    for (const auto& r : message.recipients) {
      if (r.address != outcome.recipient || !notify_wants(r.notify, dsn_event::success)) continue;
      succeeded.push_back({r.address, "2.0.0", "delivered to mailbox", false,
                           dsn_action::delivered, r.orcpt});
      break;
    }
  }
  if (succeeded.empty()) return delivered;
  auto id = db.prepare("SELECT id FROM message WHERE queue_id = ?1")
                .bind(1, message.queue_id)
                .single_int();
  if (id) bounce(db, *id, succeeded, std::chrono::system_clock::now(), policy, delivered);
  return delivered;
}

bool wants_success_notice(const incoming_message& message) {
  return !message.sender.empty() &&
         std::any_of(message.recipients.begin(), message.recipients.end(), [](const auto& r) {
           return r.is_local && notify_wants(r.notify, dsn_event::success);
         });
}

namespace {

// A local recipient that is due, with what its delivery needs.
struct due_local {
  std::int64_t id;
  std::int64_t message_id;
  std::string address;
  std::string mailbox;  // the user it goes to (the address itself, but for a subaddress)
  std::string queue_id;
  std::int64_t received_at;
  std::int64_t attempts;
  std::uint8_t notify;  // RCPT NOTIFY= flags (RFC 3461 4.1)
  std::string orcpt;    // RCPT ORCPT=, "" when none
  bool null_sender;     // from <>: no DSN of any kind
};

template <class Db>
std::vector<due_local> select_due_local(Db& db, std::size_t limit, std::int64_t now) {
  // In the order of the recipient_due index, so a backlog is not sorted for every batch. On
  // PostgreSQL, rows another node is delivering right now are passed over.
  auto& query = db.prepare(dialect<Db>(
      "SELECT r.id, r.message_id, r.address, m.queue_id, m.received_at, r.attempts, "
      "       COALESCE(r.mailbox, r.address), r.dsn_notify, coalesce(r.dsn_orcpt, ''), m.sender = '' "
      "FROM recipient r JOIN message m ON m.id = r.message_id "
      "WHERE r.state IN ('queued', 'deferred') AND r.is_local = 1 AND r.next_attempt_at <= ?1 "
      "ORDER BY r.next_attempt_at, r.id LIMIT ?2",
      "SELECT r.id, r.message_id, r.address, m.queue_id, m.received_at, r.attempts, "
      "       COALESCE(r.mailbox, r.address), r.dsn_notify, coalesce(r.dsn_orcpt, ''), "
      "       CASE WHEN m.sender = '' THEN 1 ELSE 0 END "
      "FROM recipient r JOIN message m ON m.id = r.message_id "
      "WHERE r.state IN ('queued', 'deferred') AND r.is_local = 1 AND r.next_attempt_at <= ?1 "
      "ORDER BY r.next_attempt_at, r.id LIMIT ?2 FOR UPDATE OF r SKIP LOCKED"));
  query.bind(1, now).bind(2, static_cast<std::int64_t>(limit));
  std::vector<due_local> due;
  while (query.step()) {
    due.push_back({query.column_int(0), query.column_int(1), query.column_text(2),
                   query.column_text(6), query.column_text(3), query.column_int(4),
                   query.column_int(5), static_cast<std::uint8_t>(query.column_int(7)),
                   query.column_text(8), query.column_int(9) != 0});
  }
  query.reset();
  return due;
}

// Delivers one recipient: the mailbox entry and the recipient's new state are written in
// the same transaction, so a crash neither loses nor duplicates the delivery. Without a
// mailbox, what becomes of it is decided by decide_without_mailbox.
template <class Db>
delivery_outcome deliver_one(Db& db, const due_local& recipient,
                             std::vector<given_up>& failed, std::vector<given_up>& succeeded,
                             const queue_policy& policy,
                             std::chrono::system_clock::time_point now) {
  auto user = find_user_id(db, recipient.mailbox);
  if (!user) {
    std::optional<given_up> lost;
    auto d = decide_without_mailbox({recipient.id, recipient.message_id, recipient.queue_id,
                                     recipient.address, recipient.attempts, recipient.received_at},
                                    policy.retry, now, postmaster_retry, lost);
    set_state(db, d.recipient_id, d.state, d.reply, d.next_attempt_at);
    add_event(db, d.message_id, recipient.address, d.event, d.event_detail);
    // RFC 3461 4.1: a failure is reported only when NOTIFY asks for it (or is absent).
    if (lost && notify_wants(recipient.notify, dsn_event::failure)) {
      lost->original_recipient = recipient.orcpt;
      failed.push_back(std::move(*lost));
    }
    return d.outcome;
  }
  put_in_mailbox(db, recipient.id, *user);
  if (!recipient.null_sender && notify_wants(recipient.notify, dsn_event::success)) {
    succeeded.push_back({recipient.address, "2.0.0", "delivered to mailbox", false,
                         dsn_action::delivered, recipient.orcpt});
  }
  // The recipient row is the record of a local delivery (see message_history).
  set_state(db, recipient.id, "delivered", "2.0.0 delivered to mailbox", unix_seconds(now));
  return {recipient.queue_id, recipient.address, "local", "sent",
          unix_seconds(now) - recipient.received_at, recipient.attempts + 1,
          "delivered to mailbox"};
}

}  // namespace

template <class Db>
std::vector<delivery_outcome> deliver_local(Db& db, std::size_t limit,
                                            const queue_policy& policy,
                                            std::chrono::system_clock::time_point now) {
  std::vector<delivery_outcome> outcomes;
  std::map<std::int64_t, std::vector<given_up>> failed_by_message, delivered_by_message;
  std::set<std::int64_t> late;
  for (const auto& recipient : select_due_local(db, limit, unix_seconds(now))) {
    auto outcome = deliver_one(db, recipient, failed_by_message[recipient.message_id],
                               delivered_by_message[recipient.message_id], policy, now);
    // Mail for a postmaster without a mailbox waits: its sender hears of it as of any wait.
    if (outcome.status == "deferred" && !recipient.null_sender &&
        past_delay_warning(recipient.received_at, now, policy.retry)) {
      late.insert(recipient.message_id);
    }
    outcomes.push_back(std::move(outcome));
  }
  for (auto message_id : late) warn_of_delay(db, message_id, now, policy, outcomes);
  for (const auto& [message_id, delivered] : delivered_by_message) {
    bounce(db, message_id, delivered, now, policy, outcomes);
  }
  for (const auto& [message_id, failed] : failed_by_message) {
    bounce(db, message_id, failed, now, policy, outcomes);
    retire_if_finished(db, message_id);
  }
  return outcomes;
}

std::vector<remote_recipient> claim_due_remote(db::connection& db, std::size_t limit,
                                               std::chrono::system_clock::time_point now) {
  auto& query = db.prepare(
      "SELECT r.id, r.message_id, m.queue_id, COALESCE(r.sender, m.sender), r.address, "
      "       r.attempts, m.received_at, r.dsn_notify, coalesce(r.dsn_orcpt, ''), m.dsn_ret, "
      "       coalesce(m.dsn_envid, ''), m.delay_warned "
      "FROM recipient r JOIN message m ON m.id = r.message_id "
      "WHERE r.state IN ('queued', 'deferred') AND r.is_local = 0 AND r.in_flight = 0 "
      "AND r.next_attempt_at <= ?1 ORDER BY r.next_attempt_at, r.id LIMIT ?2");
  query.bind(1, unix_seconds(now)).bind(2, static_cast<std::int64_t>(limit));
  std::vector<remote_recipient> claimed;
  while (query.step()) claimed.push_back(claimed_from_row(query));
  query.reset();
  auto& claim = db.prepare("UPDATE recipient SET in_flight = 1 WHERE id = ?1");
  for (const auto& r : claimed) claim.bind(1, r.id).run();
  return claimed;
}

template <class Db>
std::vector<delivery_outcome> record_decision(Db& db, const attempt_decision& decision,
                                             const queue_policy& policy) {
  std::vector<delivery_outcome> outcomes;
  std::set<std::int64_t> touched;
  std::set<std::pair<std::int64_t, std::string>> dropped;
  for (const auto& d : decision.recipients) {
    touched.insert(d.message_id);
    if (!set_state(db, d.recipient_id, d.state, d.reply, d.next_attempt_at)) {
      // Deleted by the administrator while the attempt was under way: nothing to record,
      // and no bounce (the message is gone on purpose).
      delivery_outcome outcome = d.outcome;
      outcome.status = "dropped";
      outcome.detail = "deleted from the queue during the attempt; " + d.reply;
      outcomes.push_back(std::move(outcome));
      dropped.insert({d.message_id, d.outcome.recipient});
      continue;
    }
    add_event(db, d.message_id, d.outcome.recipient, d.event, d.event_detail);
    outcomes.push_back(d.outcome);
  }
  for (const auto& order : decision.bounces) {
    std::vector<given_up> failed;
    for (const auto& r : order.recipients) {
      if (!dropped.contains({order.message_id, r.address})) failed.push_back(r);
    }
    bounce(db, order.message_id, failed, decision.decided_at, policy, outcomes);
  }
  for (auto message_id : decision.suppressed_bounces) suppress_bounce(db, message_id);
  for (auto message_id : decision.delay_warnings) {
    warn_of_delay(db, message_id, decision.decided_at, policy, outcomes);
  }
  for (auto message_id : touched) retire_if_finished(db, message_id);
  return outcomes;
}

std::optional<std::int64_t> next_due_time(db::connection& db) {
  return db.prepare(
               "SELECT min(next_attempt_at) FROM recipient "
               "WHERE state IN ('queued', 'deferred') AND in_flight = 0")
      .single_int();
}

template <class Db>
queue_counts count_queue(Db& db, std::chrono::system_clock::time_point now) {
  // One pass over the pending recipients (the recipient_due index holds them). On
  // PostgreSQL in_flight is a lease, held until its node records the attempt.
  auto& query = db.prepare(
      "SELECT r.state, r.in_flight, count(*), "
      "  min(CASE WHEN r.in_flight = 0 AND r.next_attempt_at <= ?1 THEN m.received_at END) "
      "FROM recipient r JOIN message m ON m.id = r.message_id "
      "WHERE r.state IN ('queued', 'deferred') GROUP BY r.state, r.in_flight");
  query.bind(1, unix_seconds(now));
  queue_counts counts;
  while (query.step()) {
    std::int64_t n = query.column_int(2);
    if (query.column_int(1) != 0) counts.sending += n;
    else if (query.column_text(0) == "queued") counts.queued += n;
    else counts.deferred += n;
    if (!query.column_is_null(3)) {
      std::int64_t at = query.column_int(3);
      if (!counts.oldest_due_received_at || at < *counts.oldest_due_received_at) {
        counts.oldest_due_received_at = at;
      }
    }
  }
  query.reset();
  return counts;
}

template <class Db>
void write_health_probe(Db& db, std::int64_t now) {
  db.prepare("INSERT INTO health_probe (id, probed_at) VALUES (1, ?1) "
             "ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at")
      .bind(1, now)
      .run();
}

void release_claims(db::connection& db, const std::vector<std::int64_t>& recipient_ids) {
  auto& release = db.prepare("UPDATE recipient SET in_flight = 0 WHERE id = ?1");
  for (auto id : recipient_ids) release.bind(1, id).run();
}

void withdraw_message(db::connection& db, const std::string& queue_id) {
  // Its recipients and events go with it (ON DELETE CASCADE).
  db.prepare("DELETE FROM message WHERE queue_id = ?1").bind(1, queue_id).run();
}

void release_all_claims(db::connection& db) {
  db.exec("UPDATE recipient SET in_flight = 0 WHERE in_flight = 1");
}

template <class Db>
std::string message_body(Db& db, std::int64_t message_id) {
  auto& query = db.prepare("SELECT body FROM message WHERE id = ?1");
  query.bind(1, message_id);
  if (!query.step()) {
    query.reset();
    throw std::runtime_error(fmt::format("message {} is gone", message_id));
  }
  std::string body(query.column_view(0));
  query.reset();
  return body;
}

template <class Db>
std::size_t purge_finished(Db& db, std::int64_t finished_before, std::size_t limit) {
  // received_at first: a message received since the cut-off cannot have finished before it.
  // Recipients and events go by ON DELETE CASCADE.
  db.prepare(
        "DELETE FROM message WHERE id IN ("
        "  SELECT m.id FROM message m WHERE m.received_at < ?1 "
        "  AND NOT EXISTS (SELECT 1 FROM recipient r WHERE r.message_id = m.id "
        "                  AND (r.state IN ('queued', 'deferred') OR r.mailbox_user_id IS NOT NULL "
        "                       OR coalesce(r.last_attempt_at, m.received_at) >= ?1)) "
        "  LIMIT ?2)")
      .bind(1, finished_before)
      .bind(2, static_cast<std::int64_t>(limit))
      .run();
  return static_cast<std::size_t>(db.changes());
}

template <class Db>
void collect_message(Db& db, std::int64_t message_id) {
  db.prepare(
        "DELETE FROM message WHERE id = ?1 "
        "AND NOT EXISTS (SELECT 1 FROM recipient WHERE message_id = ?1 "
        "                AND (state IN ('queued', 'deferred') OR mailbox_user_id IS NOT NULL))")
      .bind(1, message_id)
      .run();
}


namespace {

// The recipients of a message, in the order they were given.
template <class Db>
std::vector<recipient_status> recipients_of(Db& db, std::int64_t message_id) {
  auto& query = db.prepare(
      "SELECT address, state, attempts, next_attempt_at, last_reply, in_flight FROM recipient "
      "WHERE message_id = ?1 ORDER BY id");
  query.bind(1, message_id);
  std::vector<recipient_status> recipients;
  while (query.step()) {
    recipient_status r;
    r.address = query.column_text(0);
    r.state = query.column_text(1);
    r.attempts = query.column_int(2);
    bool pending = r.state == "queued" || r.state == "deferred";
    if (pending) r.next_attempt_at = query.column_int(3);
    if (pending && query.column_int(5)) r.state = "sending";
    if (!query.column_is_null(4)) r.last_reply = query.column_text(4);
    recipients.push_back(std::move(r));
  }
  query.reset();
  return recipients;
}

// The row id of a message by queue id.
template <class Db>
std::optional<std::int64_t> find_message(Db& db, const std::string& queue_id) {
  return db.prepare("SELECT id FROM message WHERE queue_id = ?1").bind(1, queue_id).single_int();
}

}  // namespace

template <class Db>
std::vector<message_summary> pending_messages(Db& db) {
  auto& query = db.prepare(
      "SELECT id, queue_id, received_at, size, sender FROM message m WHERE EXISTS "
      "(SELECT 1 FROM recipient r WHERE r.message_id = m.id AND r.state IN ('queued', 'deferred')) "
      "ORDER BY received_at, id");
  std::vector<std::pair<std::int64_t, message_summary>> found;
  while (query.step()) {
    message_summary m;
    m.queue_id = query.column_text(1);
    m.received_at = query.column_int(2);
    m.size = query.column_int(3);
    m.sender = query.column_text(4);
    found.emplace_back(query.column_int(0), std::move(m));
  }
  query.reset();
  std::vector<message_summary> messages;
  for (auto& [id, m] : found) {
    m.recipients = recipients_of(db, id);
    messages.push_back(std::move(m));
  }
  return messages;
}

template <class Db>
std::optional<message_story> find_message_story(Db& db, const std::string& queue_id) {
  auto id = find_message(db, queue_id);
  if (!id) return std::nullopt;
  message_story story;
  auto& query = db.prepare("SELECT sender, received_at, size, client, body FROM message WHERE id = ?1");
  query.bind(1, *id);
  query.step();
  story.summary.queue_id = queue_id;
  story.summary.sender = query.column_text(0);
  story.summary.received_at = query.column_int(1);
  story.summary.size = query.column_int(2);
  story.client = query.column_text(3);
  story.headers = std::string(header_section(query.column_view(4)));
  query.reset();
  story.summary.recipients = recipients_of(db, *id);
  auto& events = db.prepare(
      "SELECT at, kind, recipient, detail FROM message_history WHERE message_id = ?1 "
      "ORDER BY at, rank, position");
  events.bind(1, *id);
  while (events.step()) {
    history_event e;
    e.at = events.column_int(0);
    e.kind = events.column_text(1);
    if (!events.column_is_null(2)) e.recipient = events.column_text(2);
    e.detail = events.column_text(3);
    story.events.push_back(std::move(e));
  }
  events.reset();
  return story;
}

template <class Db>
std::optional<std::size_t> make_due_now(Db& db, const std::optional<std::string>& queue_id) {
  std::optional<std::int64_t> message;
  if (queue_id) {
    message = find_message(db, *queue_id);
    if (!message) return std::nullopt;
  }
  auto& update = db.prepare(
      "UPDATE recipient SET next_attempt_at = ?1 WHERE state IN ('queued', 'deferred') "
      "AND (CAST(?2 AS bigint) IS NULL OR message_id = ?2)");
  update.bind(1, unix_now());
  if (message) update.bind(2, *message);
  else update.bind_null(2);
  update.run();
  return static_cast<std::size_t>(db.changes());
}

template <class Db>
bool delete_message(Db& db, const std::string& queue_id) {
  auto id = find_message(db, queue_id);
  if (!id) return false;
  db.prepare(
        "UPDATE recipient SET state = 'failed', last_reply = 'deleted by the administrator' "
        "WHERE message_id = ?1 AND state IN ('queued', 'deferred')")
      .bind(1, *id)
      .run();
  collect_message(db, *id);
  return true;
}

template <class Db>
std::vector<maildrop_entry> maildrop_entries(Db& db, std::int64_t user_id) {
  // The rows of the view mailbox_entry, with what the delivery headers need.
  auto& query = db.prepare(
      "SELECT r.id, m.queue_id || '.' || r.id, m.size, m.sender, r.address "
      "FROM recipient r JOIN message m ON m.id = r.message_id "
      "WHERE r.mailbox_user_id = ?1 ORDER BY r.id");
  query.bind(1, user_id);
  std::vector<maildrop_entry> entries;
  while (query.step()) {
    auto size = static_cast<std::uint64_t>(query.column_int(2)) +
                delivery_headers_size(query.column_view(3), query.column_view(4));
    entries.push_back({query.column_int(0), query.column_text(1), size});
  }
  query.reset();
  return entries;
}

template <class Db>
std::string maildrop_message(Db& db, std::int64_t entry_id) {
  auto& query = db.prepare(
      "SELECT m.sender, r.address, m.body FROM recipient r JOIN message m ON m.id = r.message_id "
      "WHERE r.id = ?1 AND r.mailbox_user_id IS NOT NULL");
  query.bind(1, entry_id);
  if (!query.step()) {
    query.reset();
    throw std::runtime_error(fmt::format("maildrop entry {} is gone", entry_id));
  }
  // The message as it reached the mailbox: stored once for every local recipient, it
  // gains each one's delivery headers on the way out.
  std::string_view sender = query.column_view(0), address = query.column_view(1);
  std::string_view body = query.column_view(2);
  std::string content;
  content.reserve(delivery_headers_size(sender, address) + body.size());
  content.append(delivery_headers(sender, address)).append(body);
  query.reset();
  return content;
}

template <class Db>
std::vector<std::string> maildrop_messages(Db& db, const std::vector<std::int64_t>& entry_ids) {
  std::vector<std::string> contents;
  contents.reserve(entry_ids.size());
  for (auto id : entry_ids) {
    try {
      contents.push_back(maildrop_message(db, id));
    } catch (const std::exception&) {
      // Only the first was asked for; the rest were read ahead.
      if (contents.empty()) throw;
      break;
    }
  }
  return contents;
}

template <class Db>
void remove_maildrop_entries(Db& db, const std::vector<std::int64_t>& entry_ids) {
  auto& find = db.prepare("SELECT message_id FROM mailbox_entry WHERE id = ?1");
  // An entry is its recipient's row naming the user (schema 4): taken out, not deleted.
  auto& remove = db.prepare("UPDATE recipient SET mailbox_user_id = NULL WHERE id = ?1");
  for (auto id : entry_ids) {
    find.bind(1, id);
    if (!find.step()) {
      find.reset();
      continue;
    }
    std::int64_t message_id = find.column_int(0);
    find.reset();
    remove.bind(1, id).run();
    collect_message(db, message_id);
  }
}

remote_recipient read_claimed(db::statement& row) { return claimed_from_row(row); }
remote_recipient read_claimed(pg::statement& row) { return claimed_from_row(row); }

// The two connections the store runs on (sql_dialect.hpp).
#define MISSIVE_QUEUE_STORE_FOR(Db)                                                              \
  template std::vector<delivery_outcome> insert_message(Db&, const incoming_message&);           \
  template std::vector<delivery_outcome> accept_message(Db&, const incoming_message&,            \
                                                        const queue_policy&);                     \
  template std::vector<delivery_outcome> deliver_local(Db&, std::size_t, const queue_policy&,    \
                                                       std::chrono::system_clock::time_point);   \
  template std::vector<delivery_outcome> record_decision(Db&, const attempt_decision&,           \
                                                         const queue_policy&);                    \
  template std::string message_body(Db&, std::int64_t);                                          \
  template void collect_message(Db&, std::int64_t);                                              \
  template std::size_t purge_finished(Db&, std::int64_t, std::size_t);                           \
  template queue_counts count_queue(Db&, std::chrono::system_clock::time_point);                 \
  template void write_health_probe(Db&, std::int64_t);                                           \
  template std::vector<message_summary> pending_messages(Db&);                                   \
  template std::optional<message_story> find_message_story(Db&, const std::string&);             \
  template std::optional<std::size_t> make_due_now(Db&, const std::optional<std::string>&);      \
  template bool delete_message(Db&, const std::string&);                                         \
  template std::vector<maildrop_entry> maildrop_entries(Db&, std::int64_t);                       \
  template std::string maildrop_message(Db&, std::int64_t);                                      \
  template std::vector<std::string> maildrop_messages(Db&, const std::vector<std::int64_t>&);    \
  template void remove_maildrop_entries(Db&, const std::vector<std::int64_t>&);
MISSIVE_QUEUE_STORE_FOR(db::connection)
MISSIVE_QUEUE_STORE_FOR(pg::connection)
#undef MISSIVE_QUEUE_STORE_FOR

}  // namespace missive
