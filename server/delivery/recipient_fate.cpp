// The scheduler's decision after delivery attempts: see recipient_fate.hpp.
#include "recipient_fate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "ascii.hpp"
#include <optional>

namespace missive {

std::string status_of(std::string_view reply, bool permanent, std::string_view otherwise) {
  // Replies are recorded as "550 5.1.1 text": the enhanced code is the second word.
  auto space = reply.find(' ');
  if (space != std::string_view::npos) {
    std::string_view rest = reply.substr(space + 1);
    auto end = rest.find(' ');
    std::string_view code = rest.substr(0, end);
    if (code.size() >= 5 && (code[0] == '4' || code[0] == '5') && code[1] == '.') {
      std::string status(code);
      status[0] = permanent ? '5' : status[0];
      return status;
    }
  }
  if (!otherwise.empty()) return std::string(otherwise);
  return permanent ? "5.0.0" : "4.0.0";
}

bool past_delay_warning(std::int64_t received_at, std::chrono::system_clock::time_point now,
                        const retry_policy& policy) {
  const auto warn_after = policy.delay_warning.count();
  const auto now_s = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  return warn_after > 0 && now_s - received_at >= warn_after;
}

recipient_decision decide_without_mailbox(const local_recipient_without_mailbox& r,
                                          const retry_policy& policy,
                                          std::chrono::system_clock::time_point now,
                                          std::chrono::seconds postmaster_wait,
                                          std::optional<given_up>& lost) {
  using std::chrono::seconds;
  const std::int64_t now_s = std::chrono::floor<seconds>(now.time_since_epoch()).count();
  const std::int64_t next_second = std::chrono::ceil<seconds>(now.time_since_epoch()).count();
  recipient_decision d;
  d.recipient_id = r.id;
  d.message_id = r.message_id;
  d.next_attempt_at = now_s;
  d.outcome = {r.queue_id, r.address, "local", "", now_s - r.received_at, r.attempts + 1, ""};
  std::string_view local_part(r.address);
  local_part = local_part.substr(0, local_part.rfind('@'));
  if (!iequals(local_part, "postmaster")) {
    d.state = d.event = "failed";
    d.outcome.status = "bounced";
    d.reply = d.event_detail = d.outcome.detail = "550 5.1.1 no such local user";
    lost = given_up{r.address, "5.1.1", "no such local user", false};
    return d;
  }
  const std::int64_t expires_at = r.received_at + policy.lifetime.count();
  if (now_s < expires_at) {
    d.state = d.event = d.outcome.status = "deferred";
    d.reply = d.event_detail = d.outcome.detail =
        "no mailbox for postmaster yet; add the user to receive it";
    d.next_attempt_at = std::min(next_second + postmaster_wait.count(), expires_at);
    return d;
  }
  d.state = "failed";
  d.event = d.outcome.status = "expired";
  d.reply = d.event_detail = d.outcome.detail =
      "no mailbox for postmaster within the queue's lifetime";
  lost = given_up{r.address, "4.4.7", "delivery time expired; no mailbox for postmaster was added",
                  false};
  return d;
}

attempt_decision decide_attempts(const std::vector<attempt_result>& results,
                                 const retry_policy& policy,
                                 std::chrono::system_clock::time_point now,
                                 const std::function<double()>& jitter) {
  using std::chrono::seconds;
  const std::int64_t now_s =
      std::chrono::floor<seconds>(now.time_since_epoch()).count();
  // The queue's times are whole seconds and a recipient is due once the clock reaches its
  // time: counted from the next whole second, a retry is at most a second late, never early.
  const std::int64_t next_second = std::chrono::ceil<seconds>(now.time_since_epoch()).count();
  attempt_decision decision;
  decision.decided_at = now;
  std::map<std::pair<std::int64_t, dsn_action>, bounce_order> orders;
  std::map<std::int64_t, bool> from_null_sender;
  std::set<std::int64_t> late;
  for (const auto& result : results) {
    const auto& r = result.recipient;
    recipient_decision d;
    d.recipient_id = r.id;
    d.message_id = r.message_id;
    d.reply = result.reply;
    d.next_attempt_at = now_s;
    d.outcome = {r.queue_id, r.address, result.relay, "", now_s - r.received_at, r.attempts + 1,
                 result.reply};
    const auto attempt = static_cast<std::uint32_t>(r.attempts + 1);
    std::optional<given_up> lost;
    if (result.fate == attempt_fate::delivered) {
      d.state = d.event = "delivered";
      d.outcome.status = "sent";
      d.event_detail = fmt::format("relay={} {}", result.relay, result.reply);
      // RFC 3461 5.2.3: a next hop without DSN cannot report success; we say "relayed".
      if (!r.sender.empty() && !result.dsn_passed_on &&
          notify_wants(r.notify, dsn_event::success)) {
        auto& order = orders[{r.message_id, dsn_action::relayed}];
        order.message_id = r.message_id;
        order.recipients.push_back({r.address, status_of(result.reply, false, "2.0.0"),
                                    result.reply, true, dsn_action::relayed, r.orcpt});
      }
    } else if (result.fate == attempt_fate::permanent) {
      d.state = d.event = "failed";
      d.outcome.status = "bounced";
      d.event_detail = fmt::format("relay={} {}", result.relay, result.reply);
      lost = given_up{r.address, status_of(result.reply, true), result.reply, result.relay != "none"};
    } else if (now_s >= r.received_at + policy.lifetime.count()) {
      // RFC 3463 4.4.7: delivery time expired; the last reason goes in the bounce.
      d.state = "failed";
      d.event = d.outcome.status = "expired";
      d.event_detail = fmt::format("gave up after {} attempts: {}", attempt, result.reply);
      lost = given_up{r.address, "4.4.7",
                      fmt::format("delivery time expired; last attempt: {}", result.reply), false};
    } else {
      auto delay = retry_delay(policy, attempt, jitter());
      d.state = d.event = d.outcome.status = "deferred";
      d.next_attempt_at = next_second + delay.count();
      d.event_detail = fmt::format("relay={} {}; next attempt in {}s", result.relay, result.reply,
                                   delay.count());
      if (!r.delay_warned && !r.sender.empty() && past_delay_warning(r.received_at, now, policy)) {
        late.insert(r.message_id);
      }
    }
    if (lost) {
      lost->original_recipient = r.orcpt;
      if (r.sender.empty()) {
        from_null_sender[r.message_id] = true;
      } else if (notify_wants(r.notify, dsn_event::failure)) {
        auto& order = orders[{r.message_id, dsn_action::failed}];
        order.message_id = r.message_id;
        order.recipients.push_back(std::move(*lost));
      }
    }
    decision.recipients.push_back(std::move(d));
  }
  for (auto& [id, order] : orders) decision.bounces.push_back(std::move(order));
  for (const auto& [id, _] : from_null_sender) decision.suppressed_bounces.push_back(id);
  decision.delay_warnings.assign(late.begin(), late.end());
  return decision;
}

}  // namespace missive
