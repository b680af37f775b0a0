// Unit tests for the queue's bookkeeping on a real schema: claiming, each recipient's fate
// from its reply, backoff, expiry, and one bounce per message (never for a bounce).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>

#include "alias_store.hpp"
#include "db.hpp"
#include "sqlite_store.hpp"
#include "queue_store.hpp"
#include "recipient_fate.hpp"
#include "clock.hpp"
#include "user_store.hpp"
#include "router.hpp"

using namespace missive;

namespace {

// A relay database in a fresh temporary directory, removed afterwards.
struct temp_queue {
  std::filesystem::path dir;
  std::unique_ptr<db::connection> db;
  queue_policy policy{"mx.a.test", {"a.test"}, {std::chrono::seconds(10), std::chrono::seconds(40),
                                                std::chrono::seconds(3600)}};

  temp_queue() {
    static int counter = 0;
    dir = std::filesystem::temp_directory_path() /
          ("missive-queue-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    prepare_database(dir / "missive.db");
    db = std::make_unique<db::connection>((dir / "missive.db").string());
    db->exec("PRAGMA foreign_keys = ON");
  }
  ~temp_queue() {
    db.reset();
    std::filesystem::remove_all(dir);
  }

  void accept(const std::string& queue_id, const std::string& sender,
              const std::vector<std::string>& remote) {
    incoming_message m;
    m.queue_id = queue_id;
    m.sender = sender;
    m.client = "test [127.0.0.1]";
    m.body = "Subject: test\r\n\r\nbody\r\n";
    for (const auto& r : remote) m.recipients.push_back({r, false});
    insert_message(*db, m);
  }

  std::int64_t count(const std::string& sql) {
    auto& query = db->prepare(sql);
    query.step();
    auto n = query.column_int(0);
    query.reset();
    return n;
  }
};

// Decides now (with random jitter) and records: what the relay does after attempts.
std::vector<delivery_outcome> record_attempts(db::connection& db,
                                              const std::vector<attempt_result>& results,
                                              const queue_policy& policy) {
  auto decision = decide_attempts(results, policy.retry, std::chrono::system_clock::now(),
                                  random_jitter);
  return record_decision(db, decision, policy);
}

attempt_result result_for(const remote_recipient& r, attempt_fate fate, std::string reply) {
  return {r, fate, std::move(reply), "b.test[127.0.0.1]:25"};
}

}  // namespace

TEST_CASE("claimed recipients are not claimed twice until released") {
  temp_queue q;
  q.accept("Q1", "alice@a.test", {"bob@b.test", "carol@b.test"});
  auto first = claim_due_remote(*q.db, 10, std::chrono::system_clock::now());
  REQUIRE(first.size() == 2);
  CHECK(first[0].queue_id == "Q1");
  CHECK(first[0].sender == "alice@a.test");
  CHECK(claim_due_remote(*q.db, 10, std::chrono::system_clock::now()).empty());
  CHECK_FALSE(next_due_time(*q.db).has_value());  // nothing waiting that is not in flight
  release_all_claims(*q.db);
  CHECK(claim_due_remote(*q.db, 10, std::chrono::system_clock::now()).size() == 2);
}

TEST_CASE("each recipient gets its own fate; permanent failures share one bounce") {
  temp_queue q;
  q.accept("Q1", "alice@a.test", {"bob@b.test", "carol@b.test", "dave@b.test", "erin@b.test"});
  auto claimed = claim_due_remote(*q.db, 10, std::chrono::system_clock::now());
  REQUIRE(claimed.size() == 4);
  auto outcomes = record_attempts(*q.db,
                                  {result_for(claimed[0], attempt_fate::delivered, "250 2.0.0 Ok"),
                                   result_for(claimed[1], attempt_fate::retry, "451 4.3.0 later"),
                                   result_for(claimed[2], attempt_fate::permanent, "550 5.1.1 no"),
                                   result_for(claimed[3], attempt_fate::permanent, "552 5.2.2 full")},
                                  q.policy);
  REQUIRE(outcomes.size() == 5);
  CHECK(outcomes[0].status == "sent");
  CHECK(outcomes[1].status == "deferred");
  CHECK(outcomes[2].status == "bounced");
  CHECK(outcomes[3].status == "bounced");
  // one DSN for both, named for the log (the sender is remote: no local delivery of it)
  CHECK(outcomes[4].status == "notified");
  CHECK(outcomes[4].queue_id == "Q1");
  CHECK(q.count(fmt::format("SELECT count(*) FROM message WHERE queue_id = '{}' AND sender = ''",
                            outcomes[4].detail)) == 1);
  CHECK(q.count("SELECT count(*) FROM recipient WHERE state = 'delivered'") == 1);
  CHECK(q.count("SELECT count(*) FROM recipient WHERE state = 'failed'") == 2);
  CHECK(q.count("SELECT count(*) FROM recipient WHERE state = 'deferred' AND attempts = 1 "
                "AND in_flight = 0") == 1);
  // The deferred one waits initial (10 s) +-20% jitter, from the next whole second.
  std::int64_t wait = q.count("SELECT next_attempt_at FROM recipient WHERE state = 'deferred'") - unix_now();
  CHECK(wait >= 8);
  CHECK(wait <= 13);
  // One DSN from <> to alice, delivered locally (a.test is ours), naming both failures.
  CHECK(q.count("SELECT count(*) FROM message WHERE sender = ''") == 1);
  CHECK(q.count("SELECT count(*) FROM recipient r JOIN message m ON m.id = r.message_id "
                "WHERE m.sender = '' AND r.address = 'alice@a.test' AND r.is_local = 1") == 1);
  auto& body = q.db->prepare("SELECT body FROM message WHERE sender = ''");
  REQUIRE(body.step());
  std::string dsn(body.column_view(0));
  body.reset();
  CHECK(dsn.find("Final-Recipient: rfc822; dave@b.test") != std::string::npos);
  CHECK(dsn.find("Final-Recipient: rfc822; erin@b.test") != std::string::npos);
  CHECK(dsn.find("Status: 5.2.2") != std::string::npos);
  CHECK(dsn.find("bob@b.test") == std::string::npos);
}

TEST_CASE("a retry is never due before its delay: it counts from the next whole second") {
  temp_queue q;
  q.policy.retry.initial = std::chrono::seconds(1);  // with the jitter still 1 s, rounded
  q.accept("Q1", "alice@a.test", {"bob@b.test"});
  auto claimed = claim_due_remote(*q.db, 10, std::chrono::system_clock::now());
  REQUIRE(claimed.size() == 1);
  auto before = std::chrono::system_clock::now().time_since_epoch();
  record_attempts(*q.db, {result_for(claimed[0], attempt_fate::retry, "451 4.3.0 later")},
                  q.policy);
  auto after = std::chrono::system_clock::now().time_since_epoch();
  std::int64_t due = q.count("SELECT next_attempt_at FROM recipient WHERE state = 'deferred'");
  // Counted from unix_now() (the second that has begun), it would be due up to a second
  // before one second had passed.
  CHECK(due >= std::chrono::ceil<std::chrono::seconds>(before).count() + 1);
  CHECK(due <= std::chrono::ceil<std::chrono::seconds>(after).count() + 1);
}

TEST_CASE("a bounce is never bounced: failures of a message from <> end quietly") {
  temp_queue q;
  q.accept("Q1", "", {"bob@b.test"});
  auto claimed = claim_due_remote(*q.db, 10, std::chrono::system_clock::now());
  REQUIRE(claimed.size() == 1);
  record_attempts(*q.db, {result_for(claimed[0], attempt_fate::permanent, "550 5.1.1 no")}, q.policy);
  CHECK(q.count("SELECT count(*) FROM message") == 1);
  CHECK(q.count("SELECT count(*) FROM event WHERE kind = 'bounce_suppressed'") == 1);
}

TEST_CASE("a recipient past max_lifetime expires with 4.4.7 instead of being deferred") {
  temp_queue q;
  q.accept("Q1", "alice@a.test", {"bob@b.test"});
  q.db->exec("UPDATE message SET received_at = received_at - 7200");
  auto claimed = claim_due_remote(*q.db, 10, std::chrono::system_clock::now());
  REQUIRE(claimed.size() == 1);
  auto outcomes = record_attempts(
      *q.db, {result_for(claimed[0], attempt_fate::retry, "connection refused")}, q.policy);
  REQUIRE(outcomes.size() == 2);
  CHECK(outcomes[0].status == "expired");
  CHECK(outcomes[1].status == "notified");
  CHECK(q.count("SELECT count(*) FROM recipient WHERE address = 'bob@b.test' AND state = 'failed'") == 1);
  auto& body = q.db->prepare("SELECT body FROM message WHERE sender = ''");
  REQUIRE(body.step());
  std::string dsn(body.column_view(0));
  body.reset();
  CHECK(dsn.find("Status: 4.4.7") != std::string::npos);
}

route route_to(std::string domain, std::uint16_t port) {
  route r;
  r.domain = std::move(domain);
  r.host = {"127.0.0.1", port};
  return r;
}

TEST_CASE("routes: an exact domain wins over the default route; none without either") {
  std::vector<route> routes = {route_to("*", 2600), route_to("b.test", 2601)};
  router with_default(routes);
  auto b = with_default.configured("b.test");
  REQUIRE(b);
  REQUIRE(b->hops.size() == 1);
  CHECK(b->hops[0].port == 2601);
  CHECK(b->destination == "127.0.0.1:2601");
  auto other = with_default.configured("c.test");
  REQUIRE(other);
  CHECK(other->hops[0].port == 2600);
  router only_b({route_to("b.test", 2601)});
  CHECK_FALSE(only_b.configured("c.test").has_value());
}

TEST_CASE("MX answers become plans (RFC 5321 5.1, RFC 7505)") {
  mx_answer records{mx_answer::kind::records, {{10, "mx1.c.test"}, {20, "mx2.c.test"}}, ""};
  auto plan = plan_from_mx("c.test", records);
  CHECK(plan.outcome == route_plan::kind::hops);
  REQUIRE(plan.hops.size() == 2);
  CHECK(plan.hops[0].host == "mx1.c.test");
  CHECK(plan.hops[1].port == 25);
  auto implicit = plan_from_mx("c.test", {mx_answer::kind::no_records, {}, ""});
  REQUIRE(implicit.hops.size() == 1);
  CHECK(implicit.hops[0].host == "c.test");
  CHECK(plan_from_mx("c.test", {mx_answer::kind::null_mx, {}, ""}).outcome == route_plan::kind::permanent);
  CHECK(plan_from_mx("c.test", {mx_answer::kind::no_domain, {}, ""}).outcome == route_plan::kind::permanent);
  CHECK(plan_from_mx("c.test", {mx_answer::kind::temporary, {}, "timeout"}).outcome == route_plan::kind::retry);
}

TEST_CASE("local recipients with a mailbox are delivered in the transaction that stores the message") {
  temp_queue q;
  REQUIRE(add_user(*q.db, "bob@a.test", "$scrypt$test"));
  incoming_message m;
  m.queue_id = "LOCAL1";
  m.sender = "alice@b.test";
  m.client = "test [127.0.0.1]";
  m.trace_headers = "Received: from test\r\n";
  m.body = "Subject: hi\r\n\r\nbody\r\n";
  m.recipients = {{"bob@a.test", true}, {"postmaster@a.test", true}, {"carol@c.test", false}};
  auto delivered = insert_message(*q.db, m);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].recipient == "bob@a.test");
  CHECK(delivered[0].status == "sent");
  // bob: in his maildrop under the uid <queue id>.<recipient id>, recipient delivered
  CHECK(q.count("SELECT count(*) FROM mailbox_entry e JOIN recipient r ON r.message_id = e.message_id "
                "WHERE r.address = 'bob@a.test' AND r.state = 'delivered' AND r.attempts = 1 "
                "AND e.uid = 'LOCAL1.' || r.id") == 1);
  CHECK(q.count("SELECT count(*) FROM message_history WHERE kind = 'delivered' AND recipient = 'bob@a.test'") == 1);
  // no mailbox for postmaster yet, and the remote one: queued for the scheduler
  CHECK(q.count("SELECT count(*) FROM recipient WHERE state = 'queued'") == 2);
  CHECK(deliver_local(*q.db, 10, q.policy, std::chrono::system_clock::now()).size() == 1);  // postmaster: deferred, not lost
  CHECK(q.count("SELECT count(*) FROM recipient WHERE address = 'postmaster@a.test' "
                "AND state = 'deferred'") == 1);
  CHECK(q.count("SELECT count(*) FROM mailbox_entry") == 1);
  // the body is stored whole: the relay's headers, then the message
  CHECK(q.count("SELECT count(*) FROM message WHERE body = CAST('Received: from test\r\n"
                "Subject: hi\r\n\r\nbody\r\n' AS BLOB) AND size = length(body)") == 1);
}

TEST_CASE("a subaddress is delivered to its mailbox, the tag kept in the recipient") {
  temp_queue q;
  REQUIRE(add_user(*q.db, "bob@a.test", "$scrypt$test"));
  incoming_message m;
  m.queue_id = "SUB1";
  m.sender = "alice@b.test";
  m.client = "test [127.0.0.1]";
  m.body = "Subject: hi\r\n\r\nbody\r\n";
  m.recipients = {{"bob+lists@a.test", true, "bob@a.test"}, {"carol+x@a.test", true, "carol@a.test"}};
  auto delivered = insert_message(*q.db, m);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].recipient == "bob+lists@a.test");
  CHECK(q.count("SELECT count(*) FROM recipient WHERE address = 'bob+lists@a.test' "
                "AND mailbox = 'bob@a.test' AND mailbox_user_id IS NOT NULL") == 1);
  // carol has no mailbox yet: queued; once she has one, the scheduler delivers it there
  REQUIRE(add_user(*q.db, "carol@a.test", "$scrypt$test"));
  auto later = deliver_local(*q.db, 10, q.policy, std::chrono::system_clock::now());
  REQUIRE(later.size() == 1);
  CHECK(later[0].status == "sent");
  CHECK(later[0].recipient == "carol+x@a.test");
  CHECK(q.count("SELECT count(*) FROM recipient r JOIN user u ON u.id = r.mailbox_user_id "
                "WHERE r.address = 'carol+x@a.test' AND u.address = 'carol@a.test'") == 1);
  // the delivery headers name the envelope recipient, tag and all
  auto entry = q.count("SELECT id FROM recipient WHERE address = 'carol+x@a.test'");
  auto content = maildrop_message(*q.db, entry);
  CHECK(content.starts_with("Return-Path: <alice@b.test>\r\nDelivered-To: carol+x@a.test\r\n"));
}

TEST_CASE("a forwarded recipient is claimed with its own envelope sender") {
  temp_queue q;
  incoming_message m;
  m.queue_id = "FWD1";
  m.sender = "alice@b.test";
  m.client = "test [127.0.0.1]";
  m.body = "Subject: hi\r\n\r\nbody\r\n";
  m.recipients = {{"direct@c.test", false}, {"friend@c.test", false, "", "SRS0=X=Y=b.test=alice@a.test"}};
  insert_message(*q.db, m);
  auto claimed = claim_due_remote(*q.db, 10, std::chrono::system_clock::now());
  REQUIRE(claimed.size() == 2);
  CHECK(claimed[0].address == "direct@c.test");
  CHECK(claimed[0].sender == "alice@b.test");
  CHECK(claimed[1].address == "friend@c.test");
  CHECK(claimed[1].sender == "SRS0=X=Y=b.test=alice@a.test");
  // a failure of the forwarded copy bounces to the message's sender, not to the SRS address
  record_attempts(*q.db, {result_for(claimed[1], attempt_fate::permanent, "550 5.1.1 no")}, q.policy);
  CHECK(q.count("SELECT count(*) FROM recipient WHERE address = 'alice@b.test' AND sender IS NULL") == 1);
}

TEST_CASE("aliases: stored in any case, listed in order, resolved with the users") {
  temp_queue q;
  REQUIRE(add_user(*q.db, "Alice@a.test", "$scrypt$test"));
  CHECK(add_alias_targets(*q.db, "info@a.test", {"alice@a.test", "x@far.test"}) == 2);
  CHECK(add_alias_targets(*q.db, "INFO@a.test", {"X@FAR.test", "team@a.test"}) == 1);
  CHECK(add_alias_targets(*q.db, "team@a.test", {"alice@a.test"}) == 1);
  CHECK(add_alias_targets(*q.db, "@a.test", {"alice@a.test"}) == 1);
  auto all = list_aliases(*q.db);
  REQUIRE(all.size() == 3);
  CHECK(all[0].source == "@a.test");
  CHECK(all[1].source == "info@a.test");
  CHECK(all[1].targets == std::vector<std::string>{"alice@a.test", "x@far.test", "team@a.test"});
  CHECK(find_alias_targets(*q.db, "Team@A.test") == std::vector<std::string>{"alice@a.test"});
  expansion_options options;
  options.local_domains = {"a.test"};
  auto found = resolve_stored_recipient(*q.db, "info@a.test", options);
  REQUIRE(found.status == expansion_status::found);
  REQUIRE(found.recipients.size() == 2);
  CHECK(found.recipients[0].mailbox == "Alice@a.test");
  CHECK(found.recipients[1].address == "x@far.test");
  CHECK(found.recipients[1].forwarded);
  auto caught = resolve_stored_recipient(*q.db, "anyone+x@a.test", options);
  REQUIRE(caught.status == expansion_status::found);
  CHECK(caught.recipients[0].mailbox == "Alice@a.test");
  CHECK(delete_alias(*q.db, "INFO@A.TEST"));
  CHECK_FALSE(delete_alias(*q.db, "info@a.test"));
  CHECK(list_aliases(*q.db).size() == 2);
}

TEST_CASE("a message is stored whole, whether copied in one piece or written in place") {
  temp_queue q;
  // 64 KiB and below are copied into one piece; above, written in place behind zeros.
  for (std::size_t body_size : {std::size_t{1000}, std::size_t{64 * 1024 - 30},
                                std::size_t{64 * 1024}, std::size_t{200 * 1024}}) {
    CAPTURE(body_size);
    incoming_message m;
    m.queue_id = "WHOLE" + std::to_string(body_size);
    m.sender = "alice@b.test";
    m.client = "test [127.0.0.1]";
    m.trace_headers = "Received: from test\r\n";
    m.body = "Subject: big\r\n\r\n";
    for (std::size_t i = 0; m.body.size() < body_size; ++i) m.body += char('a' + i % 26);
    m.body.resize(body_size);
    m.recipients = {{"carol@c.test", false}};
    insert_message(*q.db, m);
    auto& stored = q.db->prepare("SELECT body, size FROM message WHERE queue_id = ?1");
    stored.bind(1, m.queue_id);
    REQUIRE(stored.step());
    CHECK(stored.column_view(0) == m.trace_headers + m.body);
    CHECK(stored.column_int(1) == static_cast<std::int64_t>(m.trace_headers.size() + body_size));
    stored.reset();
  }
}

namespace {

// A message from alice@a.test (a local user, so DSNs to her are delivered at once) to the
// given local recipients with their NOTIFY flags.
incoming_message dsn_message(const std::string& queue_id,
                             std::vector<std::pair<std::string, std::uint8_t>> recipients) {
  incoming_message m;
  m.queue_id = queue_id;
  m.sender = "alice@a.test";
  m.client = "test [127.0.0.1]";
  m.body = "Subject: dsn\r\n\r\nthe body\r\n";
  m.envid = "ENV-" + queue_id;
  for (const auto& [address, notify] : recipients) {
    incoming_recipient r{address, true};
    r.notify = notify;
    r.orcpt = "rfc822;" + address;
    m.recipients.push_back(r);
  }
  return m;
}

// The DSN bodies in alice's maildrop.
std::vector<std::string> dsns_to_alice(db::connection& db) {
  auto& query = db.prepare(
      "SELECT m.body FROM recipient r JOIN message m ON m.id = r.message_id "
      "WHERE r.address = 'alice@a.test' AND r.mailbox_user_id IS NOT NULL AND m.sender = '' "
      "ORDER BY r.id");
  std::vector<std::string> bodies;
  while (query.step()) bodies.emplace_back(query.column_view(0));
  query.reset();
  return bodies;
}

}  // namespace

TEST_CASE("DSN: SUCCESS on local delivery at arrival; never for <> (RFC 3461 4.1)") {
  temp_queue q;
  REQUIRE(add_user(*q.db, "alice@a.test", "$scrypt$test"));
  REQUIRE(add_user(*q.db, "bob@a.test", "$scrypt$test"));
  REQUIRE(add_user(*q.db, "carol@a.test", "$scrypt$test"));
  using namespace dsn_notify;
  auto m = dsn_message("S1", {{"bob@a.test", success}, {"carol@a.test", failure}});
  auto outcomes = accept_message(*q.db, m, q.policy);
  auto dsns = dsns_to_alice(*q.db);
  REQUIRE(dsns.size() == 1);
  CHECK(dsns[0].find("Action: delivered") != std::string::npos);
  CHECK(dsns[0].find("Original-Envelope-Id: ENV-S1") != std::string::npos);
  CHECK(dsns[0].find("Original-Recipient: rfc822;bob@a.test") != std::string::npos);
  CHECK(dsns[0].find("carol@a.test") == std::string::npos);
  CHECK(q.count("SELECT count(*) FROM event WHERE kind = 'success_notified'") == 1);
  // From <>: nothing.
  auto from_null = dsn_message("S2", {{"bob@a.test", success}});
  from_null.sender = "";
  accept_message(*q.db, from_null, q.policy);
  CHECK(dsns_to_alice(*q.db).size() == 1);
}

TEST_CASE("DSN: a local failure is bounced only when NOTIFY asks for FAILURE") {
  temp_queue q;
  REQUIRE(add_user(*q.db, "alice@a.test", "$scrypt$test"));
  using namespace dsn_notify;
  // Users that do not exist (deleted after RCPT): failed at delivery, 5.1.1.
  accept_message(*q.db, dsn_message("F1", {{"gone1@a.test", never}, {"gone2@a.test", success}}),
                 q.policy);
  accept_message(*q.db, dsn_message("F2", {{"gone3@a.test", 0}}), q.policy);
  deliver_local(*q.db, 10, q.policy, std::chrono::system_clock::now());
  CHECK(q.count("SELECT count(*) FROM recipient WHERE state = 'failed'") == 3);
  auto dsns = dsns_to_alice(*q.db);
  REQUIRE(dsns.size() == 1);
  CHECK(dsns[0].find("gone3@a.test") != std::string::npos);
  CHECK(dsns[0].find("Action: failed") != std::string::npos);
}

TEST_CASE("DSN: mail for a postmaster without a mailbox gets one delay warning, once") {
  temp_queue q;
  q.policy.retry.delay_warning = std::chrono::seconds(60);
  REQUIRE(add_user(*q.db, "alice@a.test", "$scrypt$test"));
  using namespace dsn_notify;
  accept_message(*q.db, dsn_message("D1", {{"postmaster@a.test", 0}}), q.policy);
  accept_message(*q.db, dsn_message("D2", {{"postmaster@a.test", failure}}), q.policy);
  auto now = std::chrono::system_clock::now();
  deliver_local(*q.db, 10, q.policy, now);
  CHECK(dsns_to_alice(*q.db).empty());  // not late yet
  q.db->exec("UPDATE recipient SET next_attempt_at = 0 WHERE state = 'deferred'");
  deliver_local(*q.db, 10, q.policy, now + std::chrono::seconds(61));
  auto dsns = dsns_to_alice(*q.db);
  REQUIRE(dsns.size() == 1);  // D2's NOTIFY leaves out DELAY
  CHECK(dsns[0].find("Action: delayed") != std::string::npos);
  CHECK(dsns[0].find("Original-Envelope-Id: ENV-D1") != std::string::npos);
  q.db->exec("UPDATE recipient SET next_attempt_at = 0 WHERE state = 'deferred'");
  deliver_local(*q.db, 10, q.policy, now + std::chrono::seconds(200));
  CHECK(dsns_to_alice(*q.db).size() == 1);  // once only
  CHECK(q.count("SELECT count(*) FROM message WHERE delay_warned = 1") == 2);
}
