// delivery/: what happens to mail after it is stored. The scheduler picks due recipients
// and decides their fate after each attempt (recipient_fate, on an injected clock); the
// courier carries them (remote_delivery: SMTP to the next hop that routing and MX lookup
// name); bounces are composed by bounce_message; delivery_headers are what final delivery
// adds.
//
// The background delivery loop: wakes when a message is committed, when a flush is asked
// for, and when the next retry falls due; delivers due local recipients in batched
// transactions and hands remote ones to SMTP connections grouped by destination, within a
// concurrency limit per destination and in total.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "courier.hpp"
#include "dns_resolver.hpp"
#include "recipient_fate.hpp"
#include "router.hpp"

namespace missive {

class clock;
class courier;
class mail_store;
struct server_config;
struct remote_recipient;

// Drives local and remote delivery from the network thread; storage work runs on the
// store's threads, DNS lookups on a small pool of their own.
class delivery_scheduler {
 public:
  // The scheduler over `store`, reading the time from `time` (system_time in the relay),
  // finding exchangers through `dns` and handing remote recipients to `carrier`
  // (smtp_courier in the relay).
  delivery_scheduler(asio::any_io_executor executor, mail_store& store, const server_config& config,
                     clock& time, dns_resolver& dns, courier& carrier);
  ~delivery_scheduler();

  // Says that there is new work (a committed message, a flush): look at the queue soon.
  void notify();
  // The loop; returns after stop() once no delivery is under way.
  asio::awaitable<void> run();
  // Ends the loop at its next wake-up.
  void stop();
  // Whether the loop has ended and no delivery is under way.
  bool idle() const { return !running_ && active_total_ == 0; }
  // Jobs put back so far because a cap on connections was reached (in all or to their
  // destination), for tests and metrics.
  std::uint64_t jobs_waiting_for_a_slot() const { return jobs_waiting_for_a_slot_; }

 private:
  asio::awaitable<void> deliver_local_all();
  // Starts deliveries for due remote recipients; false when some had to wait for a slot.
  asio::awaitable<bool> start_remote_deliveries();
  asio::awaitable<route_plan> plan_for(const std::string& domain);
  asio::awaitable<void> sleep_until_due(bool wait_for_slot);
  // A job's results not yet recorded, and whether a recording of them is under way.
  struct job_results {
    explicit job_results(asio::any_io_executor executor) : done(executor) {}
    // Returns once nothing is waiting and no recording is under way.
    asio::awaitable<void> drained();
    std::vector<attempt_result> waiting;
    bool recording = false;
    asio::steady_timer done;  // cancelled when a recording run ends
  };

  // Runs one job in its slot; the slot is freed however the job ends (once its results are
  // recorded), and a job that throws has its recipients deferred like a failed attempt.
  asio::awaitable<void> run_job(const delivery_job& job);
  // Records `results` (moved from) in the background, after any that wait before them: the
  // courier goes on meanwhile, and what arrives during one recording is recorded in the next,
  // in one transaction. Delivery stays at-least-once: a crash before the commit resends.
  void record_later(job_results& pending, std::vector<attempt_result>& results);
  // What becomes of attempted recipients, now (recipient_fate.hpp).
  attempt_decision decide(const std::vector<attempt_result>& results) const;
  // Decides on results and records the decision, trying again (after 1 s, then less often)
  // while the store fails: the attempts were made, a next hop may have taken the message.
  asio::awaitable<void> record(const std::vector<attempt_result>& results);

  asio::any_io_executor executor_;
  mail_store& store_;
  const server_config& config_;
  clock& clock_;
  courier& courier_;
  router router_;
  asio::steady_timer wake_;
  dns_resolver& dns_;  // MX lookups
  std::map<std::string, int> active_by_destination_;
  int active_total_ = 0;
  std::uint64_t jobs_waiting_for_a_slot_ = 0;
  bool work_pending_ = false;
  bool stopping_ = false;
  bool running_ = false;
};

}  // namespace missive
