// Unit tests for the scheduler's decision after attempts, on a fake clock: no storage, no
// sockets, no waiting.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "recipient_fate.hpp"

using namespace missive;
using namespace std::chrono_literals;

namespace {

// The fake clock reads instants after this arrival.
const auto arrival = std::chrono::system_clock::time_point(1'800'000'000s);
const std::int64_t arrival_s = 1'800'000'000;
const retry_policy policy{10s, 80s, 3600s};

remote_recipient recipient(std::int64_t id, std::int64_t message_id, std::string address,
                           std::int64_t attempts = 0, std::string sender = "alice@a.test") {
  return {id, message_id, "Q" + std::to_string(message_id), std::move(sender), std::move(address),
          attempts, arrival_s};
}

attempt_result attempt(remote_recipient r, attempt_fate fate, std::string reply) {
  return {std::move(r), fate, std::move(reply), "mx.b.test[127.0.0.1]:25"};
}

double fixed(double value) { return value; }

}  // namespace

TEST_CASE("deferral: the backoff doubles to the cap, within the jitter's bounds") {
  const auto now = arrival + 100s + 500ms;
  const std::int64_t next_second = arrival_s + 101;
  // after attempt n: initial * 2^(n-1), capped, times 0.8 .. 1.2
  const std::vector<std::pair<std::int64_t, std::int64_t>> nominal = {
      {1, 10}, {2, 20}, {3, 40}, {4, 80}, {5, 80}, {6, 80}};
  for (auto [attempt_number, seconds] : nominal) {
    CAPTURE(attempt_number);
    auto r = recipient(1, 1, "bob@b.test", attempt_number - 1);
    for (double jitter : {0.0, 0.5, 0.999}) {
      auto decision = decide_attempts({attempt(r, attempt_fate::retry, "451 4.3.0 later")}, policy,
                                      now, [jitter] { return fixed(jitter); });
      REQUIRE(decision.recipients.size() == 1);
      const auto& d = decision.recipients[0];
      CHECK(d.state == "deferred");
      CHECK(d.outcome.status == "deferred");
      CHECK(d.outcome.attempts == attempt_number);
      std::int64_t wait = d.next_attempt_at - next_second;
      CHECK(wait >= seconds * 8 / 10);
      CHECK(wait <= seconds * 12 / 10);
      if (jitter == 0.5) CHECK(wait == seconds);
      CHECK(decision.bounces.empty());
    }
  }
}

TEST_CASE("delivered and permanently failed recipients; one DSN per message") {
  const auto now = arrival + 5s;
  auto decision = decide_attempts(
      {attempt(recipient(1, 1, "ok@b.test"), attempt_fate::delivered, "250 2.0.0 Ok"),
       attempt(recipient(2, 1, "no1@b.test"), attempt_fate::permanent, "550 5.1.1 No such user"),
       attempt(recipient(3, 1, "no2@b.test"), attempt_fate::permanent, "552 5.2.2 Mailbox full"),
       attempt(recipient(4, 2, "no3@b.test"), attempt_fate::permanent, "554 no code")},
      policy, now, [] { return 0.5; });
  REQUIRE(decision.recipients.size() == 4);
  CHECK(decision.recipients[0].state == "delivered");
  CHECK(decision.recipients[0].next_attempt_at == arrival_s + 5);
  CHECK(decision.recipients[1].state == "failed");
  CHECK(decision.recipients[1].event == "failed");
  CHECK(decision.recipients[1].outcome.status == "bounced");
  REQUIRE(decision.bounces.size() == 2);
  CHECK(decision.bounces[0].message_id == 1);
  REQUIRE(decision.bounces[0].recipients.size() == 2);
  CHECK(decision.bounces[0].recipients[0].address == "no1@b.test");
  CHECK(decision.bounces[0].recipients[0].status == "5.1.1");
  CHECK(decision.bounces[0].recipients[1].status == "5.2.2");
  CHECK(decision.bounces[1].recipients[0].status == "5.0.0");  // no enhanced code in the reply
  CHECK(decision.suppressed_bounces.empty());
}

TEST_CASE("expiry after the lifetime yields exactly one DSN, with 4.4.7") {
  auto before = decide_attempts(
      {attempt(recipient(1, 1, "a@b.test", 7), attempt_fate::retry, "421 4.4.2 timeout"),
       attempt(recipient(2, 1, "b@b.test", 7), attempt_fate::retry, "connection refused")},
      policy, arrival + 3599s, [] { return 0.5; });
  CHECK(before.recipients[0].state == "deferred");
  CHECK(before.bounces.empty());
  auto after = decide_attempts(
      {attempt(recipient(1, 1, "a@b.test", 8), attempt_fate::retry, "421 4.4.2 timeout"),
       attempt(recipient(2, 1, "b@b.test", 8), attempt_fate::retry, "connection refused")},
      policy, arrival + 3600s, [] { return 0.5; });
  for (const auto& d : after.recipients) {
    CHECK(d.state == "failed");
    CHECK(d.event == "expired");
    CHECK(d.outcome.status == "expired");
  }
  REQUIRE(after.bounces.size() == 1);
  REQUIRE(after.bounces[0].recipients.size() == 2);
  CHECK(after.bounces[0].recipients[0].status == "4.4.7");
  CHECK(after.bounces[0].recipients[1].diagnostic ==
        "delivery time expired; last attempt: connection refused");
}

TEST_CASE("a message from the null sender is never bounced") {
  auto decision = decide_attempts(
      {attempt(recipient(1, 9, "x@b.test", 0, ""), attempt_fate::permanent, "550 5.1.1 no"),
       attempt(recipient(2, 9, "y@b.test", 0, ""), attempt_fate::retry, "451 later")},
      policy, arrival + 7200s, [] { return 0.5; });
  CHECK(decision.recipients[0].state == "failed");
  CHECK(decision.recipients[1].state == "failed");  // expired
  CHECK(decision.bounces.empty());
  CHECK(decision.suppressed_bounces == std::vector<std::int64_t>{9});
}

TEST_CASE("status_of: the enhanced code of a reply, made permanent when asked") {
  CHECK(status_of("550 5.1.1 No such user", true) == "5.1.1");
  CHECK(status_of("451 4.3.0 later", true) == "5.3.0");
  CHECK(status_of("451 4.3.0 later", false) == "4.3.0");
  CHECK(status_of("connection refused", true) == "5.0.0");
  CHECK(status_of("connection refused", false) == "4.0.0");
}

TEST_CASE("without a mailbox: a deleted user fails, a postmaster waits, then expires") {
  local_recipient_without_mailbox gone{1, 1, "Q1", "gone@a.test", 0, arrival_s};
  std::optional<given_up> lost;
  auto d = decide_without_mailbox(gone, policy, arrival + 5s, 60s, lost);
  CHECK(d.state == "failed");
  CHECK(d.outcome.status == "bounced");
  CHECK(d.reply == "550 5.1.1 no such local user");
  REQUIRE(lost);
  CHECK(lost->status == "5.1.1");

  local_recipient_without_mailbox postmaster{2, 2, "Q2", "PostMaster@a.test", 0, arrival_s};
  lost.reset();
  d = decide_without_mailbox(postmaster, policy, arrival + 5s + 500ms, 60s, lost);
  CHECK(d.state == "deferred");
  CHECK(d.next_attempt_at == arrival_s + 6 + 60);  // a minute from the next whole second
  CHECK_FALSE(lost);
  // near the end of its lifetime it is looked at again when the lifetime ends, no later
  d = decide_without_mailbox(postmaster, policy, arrival + 3590s, 60s, lost);
  CHECK(d.next_attempt_at == arrival_s + 3600);
  CHECK_FALSE(lost);
  d = decide_without_mailbox(postmaster, policy, arrival + 3600s, 60s, lost);
  CHECK(d.state == "failed");
  CHECK(d.event == "expired");
  REQUIRE(lost);
  CHECK(lost->status == "4.4.7");
}

TEST_CASE("DSN: NOTIFY decides which failures are bounced (RFC 3461 4.1)") {
  const auto now = arrival + 30s;
  using namespace dsn_notify;
  struct notify_case {
    std::uint8_t notify;
    bool bounced;
  };
  for (auto c : {notify_case{0, true}, notify_case{failure, true},
                 notify_case{success | failure | delay, true}, notify_case{never, false},
                 notify_case{success, false}, notify_case{delay, false},
                 notify_case{success | delay, false}}) {
    CAPTURE(int(c.notify));
    auto r = recipient(1, 7, "bob@b.test");
    r.notify = c.notify;
    r.orcpt = "rfc822;bob@b.test";
    auto decision = decide_attempts({attempt(r, attempt_fate::permanent, "550 5.1.1 no")}, policy,
                                    now, [] { return 0.5; });
    CHECK(decision.recipients[0].state == "failed");
    CHECK(decision.bounces.size() == (c.bounced ? 1u : 0u));
    if (c.bounced) {
      CHECK(decision.bounces[0].recipients[0].action == dsn_action::failed);
      CHECK(decision.bounces[0].recipients[0].original_recipient == "rfc822;bob@b.test");
    }
  }
}

TEST_CASE("DSN: SUCCESS delivered to a next hop without DSN is reported relayed (RFC 3461 5.2.3)") {
  const auto now = arrival + 30s;
  auto asked = recipient(1, 7, "bob@b.test");
  asked.notify = dsn_notify::success | dsn_notify::failure;
  auto silent = recipient(2, 7, "carol@b.test");
  auto without_dsn = attempt(asked, attempt_fate::delivered, "250 2.0.0 queued");
  auto other = attempt(silent, attempt_fate::delivered, "250 2.0.0 queued");
  auto decision = decide_attempts({without_dsn, other}, policy, now, [] { return 0.5; });
  REQUIRE(decision.bounces.size() == 1);
  REQUIRE(decision.bounces[0].recipients.size() == 1);
  CHECK(decision.bounces[0].recipients[0].address == "bob@b.test");
  CHECK(decision.bounces[0].recipients[0].action == dsn_action::relayed);
  CHECK(decision.bounces[0].recipients[0].status == "2.0.0");
  // The next hop took NOTIFY on: its report, not ours.
  without_dsn.dsn_passed_on = true;
  CHECK(decide_attempts({without_dsn}, policy, now, [] { return 0.5; }).bounces.empty());
  // Never to <>.
  auto from_null = recipient(3, 8, "bob@b.test", 0, "");
  from_null.notify = dsn_notify::success;
  CHECK(decide_attempts({attempt(from_null, attempt_fate::delivered, "250 ok")}, policy, now,
                        [] { return 0.5; })
            .bounces.empty());
}

TEST_CASE("DSN: a delay warning once the message is late, never from <> nor twice") {
  retry_policy warning = policy;
  warning.delay_warning = 60s;
  auto r = recipient(1, 7, "bob@b.test");
  auto early = decide_attempts({attempt(r, attempt_fate::retry, "451 4.4.1 later")}, warning,
                               arrival + 59s, [] { return 0.5; });
  CHECK(early.delay_warnings.empty());
  auto late = decide_attempts({attempt(r, attempt_fate::retry, "451 4.4.1 later")}, warning,
                              arrival + 60s, [] { return 0.5; });
  REQUIRE(late.delay_warnings.size() == 1);
  CHECK(late.delay_warnings[0] == 7);
  r.delay_warned = true;
  CHECK(decide_attempts({attempt(r, attempt_fate::retry, "451 later")}, warning, arrival + 90s,
                        [] { return 0.5; })
            .delay_warnings.empty());
  auto from_null = recipient(2, 8, "bob@b.test", 0, "");
  CHECK(decide_attempts({attempt(from_null, attempt_fate::retry, "451 later")}, warning,
                        arrival + 90s, [] { return 0.5; })
            .delay_warnings.empty());
  // delay_warning 0: never.
  CHECK(decide_attempts({attempt(recipient(3, 9, "bob@b.test"), attempt_fate::retry, "451 later")},
                        policy, arrival + 3000s, [] { return 0.5; })
            .delay_warnings.empty());
}
