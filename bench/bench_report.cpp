// Reporting a run: see bench_report.hpp.
#include "bench_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace missive::bench {

namespace {

std::vector<double> sorted_copy(const std::vector<double>& values) {
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

double mean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  return std::accumulate(values.begin(), values.end(), 0.0) / double(values.size());
}

// The median of the values from fraction `from` to fraction `to` of the run (by acceptance).
double slice_median(const std::vector<double>& in_order, double from, double to) {
  auto n = in_order.size();
  auto first = std::size_t(double(n) * from);
  auto last = std::size_t(double(n) * to);
  if (last <= first) return 0;
  std::vector<double> slice(in_order.begin() + long(first), in_order.begin() + long(last));
  std::sort(slice.begin(), slice.end());
  return percentile(slice, 50);
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += char(c);
    }
  }
  out += '"';
  return out;
}

// A number for JSON: finite, three decimals at most.
std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  return fmt::format("{:.3f}", value);
}

std::size_t error_count(const run_report& report) {
  std::size_t total = 0;
  for (const auto& [kind, count] : report.load.errors) total += count;
  return total;
}

const char* pipelining_word(const run_report& report) {
  if (!report.options.pipelining) return "disabled";
  if (report.load.greeted_sessions == 0) return "unknown (no session got past EHLO)";
  if (report.load.pipelined_sessions == report.load.greeted_sessions) return "used";
  if (report.load.pipelined_sessions == 0) return "not offered";
  return "partly";
}

std::string distribution_json(const std::vector<double>& sorted) {
  if (sorted.empty()) return "null";
  return fmt::format(R"({{"p50":{},"p99":{},"p99_9":{},"max":{},"mean":{}}})",
                     json_number(percentile(sorted, 50)), json_number(percentile(sorted, 99)),
                     json_number(percentile(sorted, 99.9)), json_number(sorted.back()),
                     json_number(mean(sorted)));
}

}  // namespace

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = std::size_t(std::ceil(p / 100.0 * double(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

double accept_rate(const load_stats& load) {
  if (!load.first_connect || !load.last_accept || load.accepted == 0) return 0;
  double seconds = std::chrono::duration<double>(*load.last_accept - *load.first_connect).count();
  return seconds > 0 ? double(load.accepted) / seconds : 0;
}

bool clean(const run_report& report) {
  if (report.load.failed > 0 || error_count(report) > 0) return false;
  if (report.lag_measured && (report.lag_missing > 0 || !report.watch.fatal.empty())) return false;
  return true;
}

std::string format_table(const run_report& report) {
  const auto& load = report.load;
  const auto& o = report.options;
  std::string out;
  double wall = load.first_connect && load.last_accept
                    ? std::chrono::duration<double>(*load.last_accept - *load.first_connect).count()
                    : 0;
  out += fmt::format("missive-bench {}{}:{}  {} messages x {} octets{}, {} sessions at once, {} per "
                     "session, pipelining {}\n",
                     report.label.empty() ? "" : report.label + "  ", report.host, report.port,
                     o.messages, o.size,
                     o.recipients > 1 ? fmt::format(" to {} recipients", o.recipients) : "",
                     o.concurrency, o.per_session, pipelining_word(report));
  out += fmt::format("  accepted   {} of {} in {:.3f} s = {:.0f} msg/s   ({} sessions)\n",
                     load.accepted, o.messages, wall, accept_rate(load), load.sessions);
  auto latencies = sorted_copy(load.latencies_ms);
  out += fmt::format("  latency    p50 {:.2f} ms  p99 {:.2f} ms  p99.9 {:.2f} ms  max {:.2f} ms"
                     "   (MAIL -> 250 after DATA)\n",
                     percentile(latencies, 50), percentile(latencies, 99),
                     percentile(latencies, 99.9), latencies.empty() ? 0.0 : latencies.back());
  if (report.lag_measured) {
    auto lags = sorted_copy(report.lags_ms);
    const auto& w = report.watch;
    std::size_t good_polls = w.polls - w.failed_polls;
    out += fmt::format("  lag        p50 {:.2f} ms  p99 {:.2f} ms  p99.9 {:.2f} ms  max {:.2f} ms"
                       "   (250 -> listed by POP3; first quarter p50 {:.2f}, last quarter p50 "
                       "{:.2f})\n",
                       percentile(lags, 50), percentile(lags, 99), percentile(lags, 99.9),
                       lags.empty() ? 0.0 : lags.back(), slice_median(report.lags_ms, 0, 0.25),
                       slice_median(report.lags_ms, 0.75, 1));
    out += fmt::format("  mailbox    {} seen, {} missing ({} older messages cleared first); {} polls "
                       "({} failed), {:.1f} ms per poll, login {:.1f} ms (max {:.1f})\n",
                       report.lags_ms.size(), report.lag_missing, report.lag_strangers, w.polls,
                       w.failed_polls, good_polls ? w.poll_ms_total / double(good_polls) : 0.0,
                       good_polls ? w.login_ms_total / double(good_polls) : 0.0, w.login_ms_max);
    if (good_polls && w.login_ms_total / double(good_polls) > double(report.poll_interval.count())) {
      out += "  note       a POP3 login takes longer than the poll interval: lag is measured no "
             "finer than a poll\n";
    }
    if (!w.fatal.empty()) out += fmt::format("  mailbox    watch stopped: {}\n", w.fatal);
    for (const auto& [kind, count] : w.errors) {
      out += fmt::format("  poll error {} x {}\n", count, kind);
    }
  }
  double cpu_share = report.load_elapsed_s > 0 ? report.generator_cpu_s / report.load_elapsed_s : 0;
  // steady_clock is CLOCK_MONOTONIC, one clock for every process of the machine: the runs of
  // generators started together can be put on one time line.
  auto monotonic = [](const std::optional<bench_clock::time_point>& t) {
    return t ? fmt::format("{:.6f}", std::chrono::duration<double>(t->time_since_epoch()).count())
             : std::string("null");
  };
  out += fmt::format("  generator  {:.2f} s CPU = {:.0f}% of one core\n", report.generator_cpu_s,
                     100 * cpu_share);
  if (load.errors.empty()) {
    out += "  errors     none\n";
  } else {
    out += fmt::format("  errors     {} messages failed; every error:\n", load.failed);
    for (const auto& [kind, count] : load.errors) out += fmt::format("    {} x {}\n", count, kind);
  }
  if (clean(report)) {
    out += "  result     clean: every message accepted" +
           std::string(report.lag_measured ? " and seen in the mailbox" : "") + ", no error\n";
  } else {
    out += fmt::format("  result     NOT CLEAN: {} of {} not accepted, {} error replies or failures{}\n",
                       load.failed, o.messages, error_count(report),
                       report.lag_measured ? fmt::format(", {} never seen in the mailbox{}",
                                                         report.lag_missing,
                                                         report.watch.fatal.empty() ? "" : ", watch stopped")
                                           : std::string());
  }
  return out;
}

std::string format_json(const run_report& report) {
  const auto& load = report.load;
  const auto& o = report.options;
  double wall = load.first_connect && load.last_accept
                    ? std::chrono::duration<double>(*load.last_accept - *load.first_connect).count()
                    : 0;
  std::string errors = "{";
  for (const auto& [kind, count] : load.errors) {
    if (errors.size() > 1) errors += ',';
    errors += fmt::format("{}:{}", json_string(kind), count);
  }
  errors += '}';
  std::string lag = "null";
  if (report.lag_measured) {
    const auto& w = report.watch;
    std::size_t good_polls = w.polls - w.failed_polls;
    std::string poll_errors = "{";
    for (const auto& [kind, count] : w.errors) {
      if (poll_errors.size() > 1) poll_errors += ',';
      poll_errors += fmt::format("{}:{}", json_string(kind), count);
    }
    poll_errors += '}';
    auto lags = sorted_copy(report.lags_ms);
    lag = fmt::format(
        R"({{"ms":{},"first_quarter_p50":{},"last_quarter_p50":{},"seen":{},"missing":{},)"
        R"("cleared_before":{},"strangers":{},"polls":{},"failed_polls":{},"poll_ms_mean":{},"login_ms_mean":{},)"
        R"("login_ms_max":{},"poll_interval_ms":{},"fatal":{},"poll_errors":{}}})",
        distribution_json(lags), json_number(slice_median(report.lags_ms, 0, 0.25)),
        json_number(slice_median(report.lags_ms, 0.75, 1)), report.lags_ms.size(),
        report.lag_missing, w.cleared, report.lag_strangers, w.polls, w.failed_polls,
        json_number(good_polls ? w.poll_ms_total / double(good_polls) : 0),
        json_number(good_polls ? w.login_ms_total / double(good_polls) : 0),
        json_number(w.login_ms_max), report.poll_interval.count(),
        w.fatal.empty() ? "null" : json_string(w.fatal), poll_errors);
  }
  double cpu_share = report.load_elapsed_s > 0 ? report.generator_cpu_s / report.load_elapsed_s : 0;
  // steady_clock is CLOCK_MONOTONIC, one clock for every process of the machine: the runs of
  // generators started together can be put on one time line.
  auto monotonic = [](const std::optional<bench_clock::time_point>& t) {
    return t ? fmt::format("{:.6f}", std::chrono::duration<double>(t->time_since_epoch()).count())
             : std::string("null");
  };
  return fmt::format(
      R"({{"label":{},"host":{},"port":{},"messages":{},"size":{},"recipients":{},"concurrency":{},)"
      R"("per_session":{},"pipelining":"{}","accepted":{},"failed":{},"sessions":{},)"
      R"("wall_s":{},"msgs_per_s":{},"latency_ms":{},"lag":{},"errors":{},"error_count":{},)"
      R"("missing_queue_ids":{},"generator_cpu_s":{},"generator_cpu_share":{},"clean":{},)"
      R"("first_connect_monotonic_s":{},"last_accept_monotonic_s":{}}})",
      json_string(report.label), json_string(report.host), report.port, o.messages, o.size,
      o.recipients, o.concurrency, o.per_session, pipelining_word(report), load.accepted, load.failed,
      load.sessions, json_number(wall), json_number(accept_rate(load)),
      distribution_json(sorted_copy(load.latencies_ms)), lag, errors, error_count(report),
      load.missing_queue_ids, json_number(report.generator_cpu_s), json_number(cpu_share),
      clean(report) ? "true" : "false", monotonic(load.first_connect), monotonic(load.last_accept));
}

}  // namespace missive::bench
