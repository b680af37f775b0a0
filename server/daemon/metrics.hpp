// The relay's metrics: counters, gauges and histograms that the sessions, the scheduler, the
// courier and the store's writer raise as things happen, kept in one registry and written in
// the Prometheus text format (metrics_text.hpp) when GET /metrics asks (metrics_http.hpp).
//
// Counting costs one relaxed atomic add: no lock, no allocation, no string built. Labelled
// families are fixed arrays indexed by enums, so an increment never looks anything up.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "queue_types.hpp"

namespace missive {

namespace exposition {
class text_writer;
}

namespace metrics {

// A count that only goes up, raised from any thread.
class counter {
 public:
  void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down, from any thread.
class gauge {
 public:
  void add(std::int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(std::int64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// A histogram over fixed bucket bounds, observed from any thread. Values are integers in the
// histogram's unit (nanoseconds for durations, items for sizes); `scale` turns them into
// the exposed unit (seconds: 1e-9).
class histogram {
 public:
  static constexpr std::size_t max_bounds = 16;
  // `bounds` ascending, at most max_bounds, in the histogram's unit; the object must outlive
  // the histogram.
  histogram(std::span<const std::uint64_t> bounds, double scale);

  void observe(std::uint64_t value) noexcept;
  void observe(std::chrono::steady_clock::duration elapsed) noexcept {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
    observe(static_cast<std::uint64_t>(ns < 0 ? 0 : ns));
  }
  // Writes the histogram's series as `name` (after its family line).
  void write(exposition::text_writer& out, std::string_view name) const;

 private:
  std::span<const std::uint64_t> bounds_;
  double scale_;
  std::array<std::atomic<std::uint64_t>, max_bounds + 1> counts_{};
  std::atomic<std::uint64_t> sum_{0};
};

// The services a listener offers (listener_role::name()).
enum class service : std::uint8_t { smtp, submission, submissions, pop3, pop3s };
inline constexpr std::size_t service_count = 5;

// What a DNS MX query came to (mx_answer::kind).
enum class dns_outcome : std::uint8_t { records, no_records, null_mx, no_domain, temporary };
inline constexpr std::size_t dns_outcome_count = 5;
// What a host's address lookup (A and AAAA) came to (address_answer::kind).
enum class address_outcome : std::uint8_t { addresses, none, temporary };
inline constexpr std::size_t address_outcome_count = 3;

// What became of a recipient in a delivery attempt (delivery_outcome::status).
enum class recipient_fate : std::uint8_t { delivered, deferred, bounced, expired };
inline constexpr std::size_t recipient_fate_count = 4;

// The open sessions and accepted connections of one listening address.
struct listener_metrics {
  listener_metrics(service k, std::string a) : kind(k), address(std::move(a)) {}
  service kind;
  std::string address;  // as bound: "127.0.0.1:2525"
  gauge open_sessions;
  counter connections;
};

// Holds a listener's session open while it lives: counted up in the constructor, down in
// the destructor, however the session ends.
class open_session {
 public:
  explicit open_session(listener_metrics& listener) : listener_(listener) {
    listener_.open_sessions.add(1);
    listener_.connections.add();
  }
  ~open_session() { listener_.open_sessions.add(-1); }
  open_session(const open_session&) = delete;
  open_session& operator=(const open_session&) = delete;

 private:
  listener_metrics& listener_;
};

// Every metric of the relay.
class registry {
 public:
  registry();

  // SMTP: a message committed and answered 250, on a listener of `kind`, `elapsed` after
  // its MAIL command was accepted.
  void message_accepted(service kind, std::chrono::steady_clock::duration elapsed) noexcept;
  // SMTP: a refused command of a mail transaction: `stage` MAIL, RCPT, DATA or
  // END-OF-MESSAGE (other stages are not counted), by the reply's class and reason (its
  // enhanced status code, RFC 3463).
  void message_refused(std::string_view stage, int code, std::string_view enhanced) noexcept;
  // A TLS handshake on a listener of `kind`, and whether it succeeded.
  void tls_handshake(service kind, bool succeeded) noexcept;
  // A login (SMTP AUTH, POP3 USER/PASS or AUTH) and whether the credentials were good.
  void login(bool pop3, bool succeeded) noexcept;
  // A recipient's outcome (delivery_outcome::status: "sent", "deferred", "bounced",
  // "expired"; others are not counted), local or remote.
  void recipient(std::string_view status, bool local) noexcept;
  // A check of inbound mail ([checks]): `method` "spf", "dkim" or "dmarc", `result` its
  // RFC 8601 name ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror").
  void authentication_result(std::string_view method, std::string_view result) noexcept;
  // A DNS MX query.
  void dns_query(dns_outcome outcome) noexcept;
  // A DNS address lookup of a mail exchanger (its A and AAAA queries).
  void address_query(address_outcome outcome) noexcept;
  // A message's remote delivery attempt that got an answer from the next hop.
  void remote_delivery(std::chrono::steady_clock::duration elapsed) noexcept;
  // A write batch of the store (group commit) with `jobs` jobs, whether it committed, and
  // how long its transaction took.
  void write_batch(std::size_t jobs, bool committed,
                   std::chrono::steady_clock::duration elapsed) noexcept;
  // Whether the last write batch committed (true before any): the store's writability.
  bool store_writable() const noexcept {
    return store_writable_.load(std::memory_order_relaxed);
  }
  // Whether a write batch ended (committed or not) within `recent` of now.
  bool wrote_within(std::chrono::steady_clock::duration recent) const noexcept;

  // Registers a listening address at start, before its first connection; the reference
  // stays valid for the registry's life.
  listener_metrics& add_listener(service kind, std::string address);

  // Writes every family in the exposition format; the queue's when `queue` is given (at
  // `now_unix` seconds), `writable` as the store's health.
  void write(exposition::text_writer& out, const std::optional<queue_counts>& queue,
             std::int64_t now_unix, bool writable) const;

  // The number of distinct refusal reasons (enhanced codes grouped, see metrics.cpp).
  static constexpr std::size_t refusal_reason_count = 22;
  static constexpr std::size_t refusal_stage_count = 5;
  static constexpr std::size_t authentication_method_count = 3;
  static constexpr std::size_t authentication_result_count = 7;

 private:
  // The families of each part; `listening`: the services some listener offers.
  void write_smtp(exposition::text_writer& out,
                  const std::array<bool, service_count>& listening) const;
  void write_sessions(exposition::text_writer& out,
                      const std::array<bool, service_count>& listening) const;
  void write_delivery(exposition::text_writer& out) const;
  void write_queue(exposition::text_writer& out, const queue_counts& queue,
                   std::int64_t now_unix) const;
  void write_store(exposition::text_writer& out, bool writable) const;

  std::array<counter, service_count> accepted_;
  // [stage][class 4xx/5xx][reason]
  std::array<std::array<std::array<counter, refusal_reason_count>, 2>, refusal_stage_count>
      refused_;
  // [method][result], in the order of metrics.cpp's names
  std::array<std::array<counter, authentication_result_count>, authentication_method_count>
      authentication_;
  std::array<std::array<counter, 2>, service_count> tls_;  // [service][failed?]
  std::array<std::array<counter, 2>, 2> logins_;             // [pop3?][failed?]
  std::array<std::array<counter, 2>, recipient_fate_count> recipients_;  // [fate][remote?]
  std::array<counter, dns_outcome_count> dns_;
  std::array<counter, address_outcome_count> dns_address_;
  histogram transaction_seconds_;
  histogram remote_delivery_seconds_;
  // Raised by the store's writer thread, the rest by the network thread: on cache lines of
  // their own, so that the two threads do not take lines from each other at every event.
  alignas(64) counter write_batches_;
  counter failed_write_batches_;
  std::atomic<bool> store_writable_{true};
  std::atomic<std::int64_t> last_batch_ns_{0};  // steady_clock, 0 before the first batch
  histogram commit_seconds_;
  histogram batch_jobs_;
  alignas(64) std::deque<listener_metrics> listeners_;
};

// The relay's registry (one per process).
registry& relay();

}  // namespace metrics
}  // namespace missive
