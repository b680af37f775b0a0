// The relay's metrics: see metrics.hpp.
#include "metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "metrics_text.hpp"

#ifndef MISSIVE_VERSION
#define MISSIVE_VERSION "unknown"
#endif

namespace missive::metrics {

namespace {

using exposition::label;
using exposition::metric_type;
using namespace std::chrono_literals;

constexpr std::uint64_t ns(std::chrono::nanoseconds d) { return static_cast<std::uint64_t>(d.count()); }
constexpr double seconds_per_ns = 1e-9;

// MAIL to 250: a commit (an fsync) and the client's own pace in between.
constexpr std::uint64_t transaction_bounds[] = {
    ns(500us), ns(1ms),   ns(2500us), ns(5ms), ns(10ms), ns(25ms), ns(50ms), ns(100ms),
    ns(250ms), ns(500ms), ns(1s),     ns(2500ms), ns(5s), ns(10s), ns(30s), ns(60s)};
// One group commit: a transaction and its fsync.
constexpr std::uint64_t commit_bounds[] = {
    ns(100us), ns(250us), ns(500us), ns(1ms), ns(2500us), ns(5ms), ns(10ms), ns(25ms),
    ns(50ms),  ns(100ms), ns(250ms), ns(500ms), ns(1s), ns(2500ms), ns(5s), ns(10s)};
// Jobs per batch: the writer takes at most 512 (sqlite_worker.cpp, pg_worker.cpp).
constexpr std::uint64_t batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
// One message to a next hop: from the start of its attempt (the connection, for the first
// message of a job) to the final reply.
constexpr std::uint64_t remote_bounds[] = {
    ns(5ms),  ns(10ms), ns(25ms), ns(50ms), ns(100ms), ns(250ms), ns(500ms), ns(1s),
    ns(2500ms), ns(5s), ns(10s),  ns(30s),  ns(60s),   ns(120s),  ns(300s)};

constexpr std::string_view service_names[service_count] = {"smtp", "submission", "submissions",
                                                           "pop3", "pop3s"};
constexpr std::string_view dns_names[dns_outcome_count] = {"records", "no_records", "null_mx",
                                                           "no_domain", "temporary"};
constexpr std::string_view address_names[address_outcome_count] = {"addresses", "none",
                                                                   "temporary"};
constexpr std::string_view fate_names[recipient_fate_count] = {"delivered", "deferred",
                                                               "bounced", "expired"};
constexpr std::string_view stage_names[registry::refusal_stage_count] = {"MAIL", "RCPT", "DATA",
                                                                         "BDAT", "END-OF-MESSAGE"};

// Refusal reasons: the subject and detail of the enhanced status code (RFC 3463 3.x), named
// as the relay's reply table uses them (smtp_replies.hpp); the first digit is the class.
struct reason_entry {
  std::string_view detail;  // the enhanced code after its class digit: ".1.1"
  std::string_view name;
};
constexpr reason_entry reasons[registry::refusal_reason_count] = {
    {".1.1", "user_unknown"},          {".1.3", "bad_recipient_address"},
    {".1.7", "bad_sender_address"},    {".3.0", "storage_failure"},
    {".3.1", "storage_full"},          {".3.2", "shutting_down"},
    {".3.4", "message_too_big"},       {".4.2", "timeout"},
    {".4.6", "mail_loop"},             {".5.0", "protocol"},
    {".5.1", "bad_sequence"},          {".5.2", "syntax"},
    {".5.3", "too_many_recipients"},   {".5.4", "bad_parameter"},
    {".6.0", "bad_content"},           {".6.7", "non_ascii_address"},
    {".7.0", "policy"},                {".7.1", "not_authorized"},
    {".7.8", "auth_failed"},           {".7.11", "encryption_required"},
    {".0.0", "other"},                 {"", "unknown"}};
constexpr std::size_t unknown_reason = registry::refusal_reason_count - 1;

std::size_t reason_index(std::string_view enhanced) {
  if (enhanced.size() < 2) return unknown_reason;
  std::string_view detail = enhanced.substr(1);
  for (std::size_t i = 0; i < unknown_reason; ++i) {
    if (reasons[i].detail == detail) return i;
  }
  return unknown_reason;
}

}  // namespace

histogram::histogram(std::span<const std::uint64_t> bounds, double scale)
    : bounds_(bounds.first(std::min(bounds.size(), max_bounds))), scale_(scale) {}

void histogram::observe(std::uint64_t value) noexcept {
  // The first bucket whose upper bound holds the value (le: less than or equal).
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void histogram::write(exposition::text_writer& out, std::string_view name) const {
  // Each bucket and the sum are read one by one while others may observe: a scrape may see
  // an observation in its bucket and not yet in the sum, never a count going down.
  std::array<std::uint64_t, max_bounds + 1> counts{};
  std::array<double, max_bounds> upper{};
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    counts[i] = counts_[i].load(std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    upper[i] = static_cast<double>(bounds_[i]) * scale_;
  }
  double sum = static_cast<double>(sum_.load(std::memory_order_relaxed)) * scale_;
  out.histogram(name, {}, std::span(upper.data(), bounds_.size()),
                std::span(counts.data(), bounds_.size() + 1), sum);
}

registry::registry()
    : transaction_seconds_(transaction_bounds, seconds_per_ns),
      remote_delivery_seconds_(remote_bounds, seconds_per_ns),
      commit_seconds_(commit_bounds, seconds_per_ns),
      batch_jobs_(batch_bounds, 1.0) {}

registry& relay() {
  static registry instance;
  return instance;
}

void registry::message_accepted(service kind, std::chrono::steady_clock::duration elapsed) noexcept {
  accepted_[static_cast<std::size_t>(kind)].add();
  transaction_seconds_.observe(elapsed);
}

void registry::message_refused(std::string_view stage, int code, std::string_view enhanced) noexcept {
  std::size_t s = 0;
  while (s < refusal_stage_count && stage_names[s] != stage) ++s;
  if (s == refusal_stage_count || code < 400 || code >= 600) return;
  refused_[s][code >= 500 ? 1 : 0][reason_index(enhanced)].add();
}

void registry::tls_handshake(service kind, bool succeeded) noexcept {
  tls_[static_cast<std::size_t>(kind)][succeeded ? 0 : 1].add();
}

void registry::login(bool pop3, bool succeeded) noexcept {
  logins_[pop3 ? 1 : 0][succeeded ? 0 : 1].add();
}

void registry::recipient(std::string_view status, bool local) noexcept {
  std::size_t fate;
  if (status == "sent") fate = 0;
  else if (status == "deferred") fate = 1;
  else if (status == "bounced") fate = 2;
  else if (status == "expired") fate = 3;
  else return;  // "notified" (a DSN was made) and "dropped" are not a recipient's fate
  recipients_[fate][local ? 0 : 1].add();
}

namespace {
constexpr std::string_view authentication_methods[] = {"spf", "dkim", "dmarc"};
constexpr std::string_view authentication_results[] = {"pass", "fail", "softfail", "neutral",
                                                       "none", "temperror", "permerror"};
static_assert(std::size(authentication_methods) == registry::authentication_method_count);
static_assert(std::size(authentication_results) == registry::authentication_result_count);
}  // namespace

void registry::authentication_result(std::string_view method, std::string_view result) noexcept {
  auto m = std::find(std::begin(authentication_methods), std::end(authentication_methods), method);
  auto r = std::find(std::begin(authentication_results), std::end(authentication_results), result);
  if (m == std::end(authentication_methods) || r == std::end(authentication_results)) return;
  authentication_[m - std::begin(authentication_methods)][r - std::begin(authentication_results)].add();
}

void registry::dns_query(dns_outcome outcome) noexcept {
  dns_[static_cast<std::size_t>(outcome)].add();
}

void registry::address_query(address_outcome outcome) noexcept {
  dns_address_[static_cast<std::size_t>(outcome)].add();
}

void registry::remote_delivery(std::chrono::steady_clock::duration elapsed) noexcept {
  remote_delivery_seconds_.observe(elapsed);
}

void registry::write_batch(std::size_t jobs, bool committed,
                           std::chrono::steady_clock::duration elapsed) noexcept {
  last_batch_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count(),
                       std::memory_order_relaxed);
  if (store_writable_.load(std::memory_order_relaxed) != committed) {
    store_writable_.store(committed, std::memory_order_relaxed);
  }
  if (!committed) {
    failed_write_batches_.add();
    return;
  }
  write_batches_.add();
  batch_jobs_.observe(static_cast<std::uint64_t>(jobs));
  commit_seconds_.observe(elapsed);
}

bool registry::wrote_within(std::chrono::steady_clock::duration recent) const noexcept {
  std::int64_t last = last_batch_ns_.load(std::memory_order_relaxed);
  if (last == 0) return false;
  auto at = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(last));
  return std::chrono::steady_clock::now() - at <= recent;
}

listener_metrics& registry::add_listener(service kind, std::string address) {
  return listeners_.emplace_back(kind, std::move(address));
}

void registry::write(exposition::text_writer& out, const std::optional<queue_counts>& queue,
                     std::int64_t now_unix, bool writable) const {
  out.family("missive_build_info", "Missive's version; the value is always 1.", metric_type::gauge);
  {
    label labels[] = {{"version", MISSIVE_VERSION}};
    out.sample("missive_build_info", labels, std::int64_t{1});
  }
  // Every service that listens is shown, at 0 before its first event.
  std::array<bool, service_count> listening{};
  for (const auto& l : listeners_) listening[static_cast<std::size_t>(l.kind)] = true;
  write_smtp(out, listening);
  write_sessions(out, listening);
  write_delivery(out);
  // The queue, read from the store at this scrape.
  if (queue) write_queue(out, *queue, now_unix);
  write_store(out, writable);
}

void registry::write_smtp(exposition::text_writer& out,
                          const std::array<bool, service_count>& listening) const {
  out.family("missive_smtp_messages_accepted_total",
             "Messages committed to the store and answered 250, by listener service.",
             metric_type::counter);
  for (std::size_t s = 0; s < service_count; ++s) {
    if (s >= static_cast<std::size_t>(service::pop3)) break;
    if (!listening[s] && accepted_[s].value() == 0) continue;
    label labels[] = {{"service", service_names[s]}};
    out.sample("missive_smtp_messages_accepted_total", labels, accepted_[s].value());
  }
  out.family("missive_smtp_messages_refused_total",
             "Refused MAIL, RCPT and DATA commands and refused message data, by stage, reply "
             "class and reason (the enhanced status code's meaning).",
             metric_type::counter);
  for (std::size_t s = 0; s < refusal_stage_count; ++s) {
    for (std::size_t c = 0; c < 2; ++c) {
      for (std::size_t r = 0; r < refusal_reason_count; ++r) {
        std::uint64_t value = refused_[s][c][r].value();
        if (value == 0) continue;
        label labels[] = {{"stage", stage_names[s]}, {"class", c == 0 ? "4xx" : "5xx"},
                          {"reason", reasons[r].name}};
        out.sample("missive_smtp_messages_refused_total", labels, value);
      }
    }
  }
  out.family("missive_smtp_authentication_results_total",
             "Checks of inbound mail from outside ([checks]), by method (spf: the identity "
             "that decides, MAIL FROM or HELO; dkim: each signature, none without one; dmarc) "
             "and result (RFC 8601).",
             metric_type::counter);
  for (std::size_t m = 0; m < authentication_method_count; ++m) {
    for (std::size_t r = 0; r < authentication_result_count; ++r) {
      std::uint64_t value = authentication_[m][r].value();
      if (value == 0) continue;
      label labels[] = {{"method", authentication_methods[m]}, {"result", authentication_results[r]}};
      out.sample("missive_smtp_authentication_results_total", labels, value);
    }
  }
  out.family("missive_smtp_transaction_duration_seconds",
             "From MAIL accepted to 250 after the data (the commit included), per accepted "
             "message.",
             metric_type::histogram);
  transaction_seconds_.write(out, "missive_smtp_transaction_duration_seconds");
}

void registry::write_sessions(exposition::text_writer& out,
                              const std::array<bool, service_count>& listening) const {
  out.family("missive_sessions_open", "Open SMTP and POP3 sessions, per listening address.",
             metric_type::gauge);
  for (const auto& l : listeners_) {
    label labels[] = {{"service", service_names[static_cast<std::size_t>(l.kind)]},
                      {"listener", l.address}};
    out.sample("missive_sessions_open", labels, l.open_sessions.value());
  }
  out.family("missive_connections_total",
             "Connections taken into a session, per listening address.", metric_type::counter);
  for (const auto& l : listeners_) {
    label labels[] = {{"service", service_names[static_cast<std::size_t>(l.kind)]},
                      {"listener", l.address}};
    out.sample("missive_connections_total", labels, l.connections.value());
  }
  out.family("missive_tls_handshakes_total",
             "Server TLS handshakes (STARTTLS, STLS, implicit TLS) that succeeded, by service.",
             metric_type::counter);
  for (std::size_t s = 0; s < service_count; ++s) {
    if (!listening[s] && tls_[s][0].value() == 0) continue;
    label labels[] = {{"service", service_names[s]}};
    out.sample("missive_tls_handshakes_total", labels, tls_[s][0].value());
  }
  out.family("missive_tls_handshake_failures_total",
             "Server TLS handshakes that failed or timed out, by service.", metric_type::counter);
  for (std::size_t s = 0; s < service_count; ++s) {
    if (!listening[s] && tls_[s][1].value() == 0) continue;
    label labels[] = {{"service", service_names[s]}};
    out.sample("missive_tls_handshake_failures_total", labels, tls_[s][1].value());
  }
  out.family("missive_logins_total",
             "Logins checked against the store (SMTP AUTH; POP3 PASS and AUTH), by protocol "
             "and result.",
             metric_type::counter);
  for (std::size_t p = 0; p < 2; ++p) {
    for (std::size_t f = 0; f < 2; ++f) {
      label labels[] = {{"protocol", p == 0 ? "smtp" : "pop3"},
                        {"result", f == 0 ? "success" : "failure"}};
      out.sample("missive_logins_total", labels, logins_[p][f].value());
    }
  }
}

void registry::write_delivery(exposition::text_writer& out) const {
  out.family("missive_recipients_total",
             "What became of recipients at delivery attempts: delivered, deferred (another "
             "attempt later), bounced (failed: a DSN goes to the sender) or expired, local or "
             "remote.",
             metric_type::counter);
  for (std::size_t f = 0; f < recipient_fate_count; ++f) {
    for (std::size_t where = 0; where < 2; ++where) {
      label labels[] = {{"outcome", fate_names[f]}, {"destination", where == 0 ? "local" : "remote"}};
      out.sample("missive_recipients_total", labels, recipients_[f][where].value());
    }
  }
  out.family("missive_remote_delivery_duration_seconds",
             "One message's delivery attempt to a next hop that answered: from the start of "
             "the attempt (the connection, for a job's first message) to the final reply.",
             metric_type::histogram);
  remote_delivery_seconds_.write(out, "missive_remote_delivery_duration_seconds");
  out.family("missive_dns_queries_total",
             "DNS lookups: a domain's MX records (type mx), a mail exchanger's A and AAAA "
             "records (type address), by outcome.",
             metric_type::counter);
  for (std::size_t o = 0; o < dns_outcome_count; ++o) {
    label labels[] = {{"type", "mx"}, {"outcome", dns_names[o]}};
    out.sample("missive_dns_queries_total", labels, dns_[o].value());
  }
  for (std::size_t o = 0; o < address_outcome_count; ++o) {
    label labels[] = {{"type", "address"}, {"outcome", address_names[o]}};
    out.sample("missive_dns_queries_total", labels, dns_address_[o].value());
  }
}

void registry::write_queue(exposition::text_writer& out, const queue_counts& queue,
                           std::int64_t now_unix) const {
  out.family("missive_queue_recipients",
             "Recipients waiting in the queue, by state: queued (never tried), deferred "
             "(waiting for a retry), sending (a delivery under way).",
             metric_type::gauge);
  std::pair<std::string_view, std::int64_t> states[] = {
      {"queued", queue.queued}, {"deferred", queue.deferred}, {"sending", queue.sending}};
  for (const auto& [state, count] : states) {
    label labels[] = {{"state", state}};
    out.sample("missive_queue_recipients", labels, count);
  }
  out.family("missive_queue_oldest_due_message_age_seconds",
             "Age of the oldest message with a recipient due for delivery now (0 when none "
             "is due).",
             metric_type::gauge);
  std::int64_t age = queue.oldest_due_received_at
                         ? std::max<std::int64_t>(0, now_unix - *queue.oldest_due_received_at)
                         : 0;
  out.sample("missive_queue_oldest_due_message_age_seconds", {}, age);
}

void registry::write_store(exposition::text_writer& out, bool writable) const {
  out.family("missive_store_write_batches_total",
             "Write transactions committed by the store's writer (group commit).",
             metric_type::counter);
  out.sample("missive_store_write_batches_total", {}, write_batches_.value());
  out.family("missive_store_write_batch_failures_total",
             "Write transactions that could not begin or commit.", metric_type::counter);
  out.sample("missive_store_write_batch_failures_total", {}, failed_write_batches_.value());
  out.family("missive_store_write_batch_jobs",
             "Jobs per committed write batch (an accepted message is one job).",
             metric_type::histogram);
  batch_jobs_.write(out, "missive_store_write_batch_jobs");
  out.family("missive_store_commit_duration_seconds",
             "Duration of one committed write batch: the transaction and its sync to disk.",
             metric_type::histogram);
  commit_seconds_.write(out, "missive_store_commit_duration_seconds");
  out.family("missive_store_writable",
             "1 while the store takes writes (the last write batch committed and the data "
             "directory has room), else 0; /healthz checks it afresh when no batch is recent.",
             metric_type::gauge);
  out.sample("missive_store_writable", {}, std::int64_t{writable ? 1 : 0});
}

}  // namespace missive::metrics
