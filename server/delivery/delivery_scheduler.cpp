// The background delivery loop: see delivery_scheduler.hpp.
#include "delivery_scheduler.hpp"

#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <set>

#include "ascii.hpp"
#include "clock.hpp"
#include "log.hpp"
#include "mail_store.hpp"
#include "metrics.hpp"
#include "remote_delivery.hpp"
#include "server_config.hpp"

namespace missive {

namespace {

// Recipients per local delivery transaction: large enough to share fsyncs under load, small
// enough that one transaction stays short.
constexpr std::size_t local_batch = 256;
// Remote recipients claimed per round.
constexpr std::size_t remote_batch = 256;
// How often the queue is looked at when nothing wakes the loop.
constexpr auto sweep_interval = std::chrono::minutes(1);
// The longest wait between two tries to record delivery attempts.
constexpr auto max_record_pause = std::chrono::seconds(30);
// How long to wait after a storage error before trying again.
constexpr auto error_pause = std::chrono::seconds(1);

static_assert(static_cast<int>(metrics::dns_outcome::temporary) ==
                  static_cast<int>(mx_answer::kind::temporary),
              "metrics::dns_outcome follows mx_answer::kind");
static_assert(static_cast<int>(metrics::address_outcome::temporary) ==
                  static_cast<int>(address_answer::kind::temporary),
              "metrics::address_outcome follows address_answer::kind");

}  // namespace

delivery_scheduler::delivery_scheduler(asio::any_io_executor executor, mail_store& store,
                                       const server_config& config, clock& time,
                                       dns_resolver& dns, courier& carrier)
    : executor_(executor),
      store_(store),
      config_(config),
      clock_(time),
      courier_(carrier),
      router_(config.routes),
      wake_(executor),
      dns_(dns) {}

delivery_scheduler::~delivery_scheduler() = default;

void delivery_scheduler::notify() {
  work_pending_ = true;
  wake_.cancel();
}

void delivery_scheduler::stop() {
  stopping_ = true;
  wake_.cancel();
}

asio::awaitable<void> delivery_scheduler::run() {
  running_ = true;
  while (!stopping_) {
    work_pending_ = false;
    bool waiting_for_slot = false;
    bool failed = false;
    try {
      co_await deliver_local_all();
      waiting_for_slot = co_await start_remote_deliveries();
    } catch (const std::exception& e) {
      log::error("delivery", "event=scheduling_failed reason=\"{}\"", e.what());
      failed = true;
    }
    if (failed) {
      asio::steady_timer pause(executor_, error_pause);
      std::error_code ec;
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (stopping_) break;
    if (work_pending_) continue;
    co_await sleep_until_due(waiting_for_slot);
  }
  running_ = false;
}

asio::awaitable<void> delivery_scheduler::deliver_local_all() {
  for (;;) {
    auto outcomes = co_await store_.deliver_local_batch(local_batch, clock_.now());
    // Logged only now that the batch is committed.
    log_outcomes(outcomes);
    if (outcomes.size() < local_batch) co_return;
  }
}

asio::awaitable<void> delivery_scheduler::sleep_until_due(bool wait_for_slot) {
  auto pause = std::chrono::duration_cast<std::chrono::milliseconds>(sweep_interval);
  if (!wait_for_slot) {
    // A slot freeing up calls notify(); otherwise sleep until the next retry is due.
    auto due = co_await store_.next_due();
    if (due) {
      auto now = clock_.now();
      auto at = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(*due));
      // Rounded up: woken before the second is reached, nothing would be due yet.
      pause = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(at - now),
                         std::chrono::milliseconds(0), pause);
    }
  }
  if (work_pending_ || stopping_) co_return;
  wake_.expires_after(pause);
  std::error_code ec;
  co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

attempt_decision delivery_scheduler::decide(const std::vector<attempt_result>& results) const {
  retry_policy policy{config_.queue.retry_initial, config_.queue.retry_max,
                      config_.queue.max_lifetime, config_.queue.delay_warning};
  return decide_attempts(results, policy, clock_.now(), random_jitter);
}

asio::awaitable<void> delivery_scheduler::run_job(const delivery_job& job) {
  // The slot taken for this job is given back however it ends.
  struct slot_release {
    delivery_scheduler& scheduler;
    std::string destination;
    ~slot_release() {
      --scheduler.active_by_destination_[destination];
      --scheduler.active_total_;
      scheduler.notify();
    }
  } release{*this, job.destination};
  std::string failure;
  std::set<std::int64_t> reported;
  job_results pending(executor_);
  // Named, not a temporary: GCC 12 mishandles temporaries bound to references in co_await.
  // The courier goes on with its next message while this one's results are recorded.
  attempt_report report = [this, &reported, &pending](std::vector<attempt_result>& results)
      -> asio::awaitable<void> {
    for (const auto& r : results) reported.insert(r.recipient.id);
    record_later(pending, results);
    co_return;
  };
  try {
    co_await courier_.deliver(job, report);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    // A courier that throws loses nothing: what it did not report is deferred like a failed
    // attempt.
    log::error(job.destination, "event=delivery_job_failed reason=\"{}\"", failure);
    std::vector<attempt_result> results;
    for (const auto& r : job.recipients) {
      if (reported.contains(r.id)) continue;
      results.push_back({r, attempt_fate::retry, "delivery failed: " + failure, "none"});
    }
    record_later(pending, results);
  }
  // The slot is held until every result of the job is recorded.
  co_await pending.drained();
}

void delivery_scheduler::record_later(job_results& pending, std::vector<attempt_result>& results) {
  if (results.empty()) return;
  pending.waiting.insert(pending.waiting.end(), std::make_move_iterator(results.begin()),
                         std::make_move_iterator(results.end()));
  if (pending.recording) return;
  pending.recording = true;
  asio::co_spawn(
      executor_,
      [this, &pending]() -> asio::awaitable<void> {
        // The job waits for this: told however the recording ends. (Not from a destructor:
        // a frame destroyed with its io_context may outlive the job's.)
        auto finish = [&pending] {
          pending.recording = false;
          pending.done.cancel();
        };
        try {
          // One writer transaction for all the results that arrived while the last one ran.
          while (!pending.waiting.empty()) {
            auto batch = std::exchange(pending.waiting, {});
            co_await record(batch);
          }
        } catch (...) {
          finish();
          throw;
        }
        finish();
      },
      [](std::exception_ptr failure) {
        // record() retries what the store throws; anything else is a bug, logged (the
        // recipients stay claimed until the next start returns them to the queue).
        if (!failure) return;
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          log::error("delivery", "event=record_failed reason=\"{}\"", e.what());
        }
      });
}

asio::awaitable<void> delivery_scheduler::job_results::drained() {
  while (recording) {
    done.expires_at(asio::steady_timer::time_point::max());
    std::error_code ec;
    co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> delivery_scheduler::record(const std::vector<attempt_result>& results) {
  if (results.empty()) co_return;
  // Decided once: a retry of the recording records the same decision.
  const attempt_decision decision = decide(results);
  auto pause = std::chrono::seconds(1);
  for (;;) {
    try {
      auto outcomes = co_await store_.record_decision(decision);  // a copy: kept for a retry
      log_outcomes(outcomes);
      co_return;
    } catch (const std::exception& e) {
      log::error("delivery", "event=record_failed reason=\"{}\" retry_in={}s", e.what(),
                 pause.count());
    }
    asio::steady_timer wait(executor_, pause);
    std::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    pause = std::min(pause * 2, max_record_pause);
  }
}

asio::awaitable<route_plan> delivery_scheduler::plan_for(const std::string& domain) {
  if (auto configured = router_.configured(domain)) co_return *configured;
  mx_answer answer = co_await lookup_mx(dns_, domain);
  metrics::relay().dns_query(static_cast<metrics::dns_outcome>(answer.outcome));
  route_plan plan = plan_from_mx(domain, answer, config_.queue.mx_port);
  if (plan.outcome != route_plan::kind::hops) co_return plan;
  // Each exchanger's addresses, from the same resolver (not the system's).
  std::map<std::string, address_answer> addresses;
  for (const auto& hop : plan.hops) {
    if (addresses.contains(hop.host)) continue;
    address_answer found = co_await lookup_addresses(dns_, hop.host);
    metrics::relay().address_query(static_cast<metrics::address_outcome>(found.outcome));
    addresses.emplace(hop.host, std::move(found));
  }
  co_return plan_with_addresses(domain, std::move(plan), addresses,
                                answer.outcome == mx_answer::kind::no_records);
}

asio::awaitable<bool> delivery_scheduler::start_remote_deliveries() {
  const auto& caps = config_.queue;
  if (static_cast<std::size_t>(active_total_) >= caps.max_connections) co_return true;
  auto claimed = co_await store_.claim_remote(remote_batch, clock_.now());
  if (claimed.empty()) co_return false;

  // Group by destination: one plan per domain, one job per destination.
  std::map<std::string, route_plan> plans;
  std::map<std::string, delivery_job> jobs;
  std::vector<attempt_result> unroutable;
  for (auto& recipient : claimed) {
    std::string domain = lowercase_ascii(recipient.address.substr(recipient.address.rfind('@') + 1));
    auto found = plans.find(domain);
    if (found == plans.end()) {
      route_plan plan = co_await plan_for(domain);
      found = plans.emplace(domain, std::move(plan)).first;
    }
    const route_plan& plan = found->second;
    if (plan.outcome != route_plan::kind::hops) {
      auto fate = plan.outcome == route_plan::kind::permanent ? attempt_fate::permanent
                                                             : attempt_fate::retry;
      unroutable.push_back({std::move(recipient), fate, plan.detail, "none"});
      continue;
    }
    auto& job = jobs[plan.destination];
    job.destination = plan.destination;
    job.hops = plan.hops;
    job.recipients.push_back(std::move(recipient));
  }
  co_await record(unroutable);

  bool waiting = false;
  std::vector<std::int64_t> unclaimed;
  for (auto& [destination, job] : jobs) {
    int& active = active_by_destination_[destination];
    if (static_cast<std::size_t>(active) >= caps.max_connections_per_destination ||
        static_cast<std::size_t>(active_total_) >= caps.max_connections) {
      for (const auto& r : job.recipients) unclaimed.push_back(r.id);
      waiting = true;
      ++jobs_waiting_for_a_slot_;
      continue;
    }
    ++active;
    ++active_total_;
    asio::co_spawn(
        executor_,
        [this, job = std::move(job)]() -> asio::awaitable<void> { co_await run_job(job); },
        [destination](std::exception_ptr failure) {
      if (!failure) return;
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        log::error(destination, "event=delivery_job_failed reason=\"{}\"", e.what());
      }
    });
  }
  if (!unclaimed.empty()) co_await store_.release(std::move(unclaimed));
  co_return waiting;
}

}  // namespace missive
