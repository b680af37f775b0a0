// What one missive-bench run measured, as a table for people and as JSON for scripts.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "pop3_watch.hpp"
#include "smtp_load.hpp"

namespace missive::bench {

// Everything a run measured.
struct run_report {
  std::string label;
  std::string host;
  unsigned short port = 0;
  load_options options;
  load_stats load;
  double generator_cpu_s = 0;      // user + system CPU of this process while the load ran
  double load_elapsed_s = 0;       // start of the load to its last session's end
  // End-to-end lag, when a mailbox was watched.
  bool lag_measured = false;
  std::vector<double> lags_ms;     // in order of acceptance
  std::size_t lag_missing = 0;     // accepted, never seen within the drain timeout
  std::size_t lag_strangers = 0;   // seen, never accepted in this run
  watch_stats watch;
  std::chrono::milliseconds poll_interval{0};
};

// The value below which `p` percent of `sorted` lie (nearest rank); 0 when empty.
double percentile(const std::vector<double>& sorted, double p);

// Accepted messages per second: wall time from the first connect to the last 250.
double accept_rate(const load_stats& load);

// Whether the run had no failure of any kind (every message accepted and, when lag was
// measured, seen; no error reply anywhere).
bool clean(const run_report& report);

// The report as a short human-readable table.
std::string format_table(const run_report& report);

// The report as one JSON object (one line).
std::string format_json(const run_report& report);

}  // namespace missive::bench
