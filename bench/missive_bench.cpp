// missive-bench: an SMTP load generator (one thread, Asio coroutines) that measures how fast
// a server accepts mail, the latency of each acceptance, and, for missived, how long an
// accepted message takes to show up in the recipient's POP3 mailbox.
//
//   missive-bench --port 2525 --messages 5000 --concurrency 50 --size 1024
//   missive-bench --port 2525 --pop3-port 2110 --to u@bench.test --password pw --json out.json
//   missive-bench --port 2525 --to user@bench.test --recipients 100   # user1 .. user100
//
// Exit status: 0 when every message was accepted (and seen, when lag was measured) without
// a single error reply; 1 otherwise; 64 for bad usage, 69 when the host cannot be resolved.
#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <fmt/format.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>

#include "bench_report.hpp"
#include "lag_tracker.hpp"
#include "pop3_watch.hpp"
#include "smtp_load.hpp"

namespace {

using namespace missive::bench;

constexpr int exit_usage = 64;
constexpr int exit_unavailable = 69;

// User plus system CPU seconds this process has used so far.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The address of `host` (a literal, or the first address the resolver gives).
std::optional<asio::ip::address> resolve(asio::io_context& io, const std::string& host) {
  std::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) return address;
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(host, "", ec);
  if (ec || results.empty()) return std::nullopt;
  return results.begin()->endpoint().address();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "missive-bench: SMTP load generator. Sends N messages of exactly S octets over C "
      "concurrent sessions, K per session (K = 1: a new connection for every message), and "
      "reports messages/s accepted (first connect to last 250), latency percentiles from MAIL to "
      "the 250 after DATA, and, with --pop3-port, end-to-end lag from that 250 until the message "
      "is listed in the recipient's POP3 mailbox (missived: UIDL is <queue id>.<n>; each poll is "
      "a new login, and the messages seen are deleted unless --keep).\n"
      "PIPELINING: used when the server advertises it (RFC 2920): MAIL, RCPT and DATA in one "
      "write, the message content (with QUIT after a session's last message) in another; "
      "--no-pipelining sends one command per round trip. One thread; no TLS, no AUTH.\n"
      "Exit status: 0 if every message was accepted (and seen) with no error reply, else 1."};
  app.option_defaults()->always_capture_default();

  std::string host = "127.0.0.1";
  unsigned short port = 0;
  load_options load;
  std::optional<unsigned short> pop3_port;
  std::string user;
  std::string password;
  int poll_interval_ms = 5;
  int drain_timeout_s = 30;
  int timeout_s = 30;
  bool keep = false;
  bool no_pipelining = false;
  std::string json_path;
  std::string latencies_path;
  std::string label;
  bool quiet = false;

  app.add_option("--host", host, "server address (IPv4/IPv6 literal or name)");
  app.add_option("--port", port, "SMTP port")->required();
  app.add_option("--messages,-n", load.messages, "messages to send in all")->check(CLI::Range(1, 100000000));
  app.add_option("--size,-s", load.size, "octets of each message's content (headers included; "
                                         "the body is padded to exactly this)")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--concurrency,-c", load.concurrency, "SMTP sessions at once")
      ->check(CLI::Range(1, 10000));
  app.add_option("--per-session,-k", load.per_session,
                 "messages per session (1: a new connection for every message)")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--from", load.from, "envelope sender");
  app.add_option("--to", load.to, "envelope recipient");
  app.add_option("--recipients", load.recipients,
                 "envelope recipients of each message: with N > 1, --to's local part numbered "
                 "1..N (u@d -> u1@d ... uN@d), all RCPTs in the pipelined group")
      ->check(CLI::Range(1, 100000));
  app.add_option("--helo", load.helo, "name given in EHLO");
  app.add_option("--timeout", timeout_s, "seconds allowed for each step (connect, a write, a reply)")
      ->check(CLI::Range(1, 3600));
  app.add_flag("--no-pipelining", no_pipelining, "never pipeline, even when offered");
  app.add_option("--pop3-port", pop3_port,
                 "measure accept -> mailbox lag by polling this POP3 port (missived only)");
  app.add_option("--user", user, "POP3 user (default: --to)");
  app.add_option("--password", password,
                 "POP3 password (default: $MISSIVE_BENCH_PASSWORD)");
  app.add_option("--poll-interval", poll_interval_ms, "milliseconds from one poll's start to the next")
      ->check(CLI::Range(1, 60000));
  app.add_option("--drain-timeout", drain_timeout_s,
                 "seconds to keep polling after the load for messages not yet seen")
      ->check(CLI::Range(0, 3600));
  app.add_flag("--keep", keep, "do not delete the messages seen (the listing then grows)");
  app.add_option("--json", json_path, "write the report as JSON to FILE ('-': stdout, and the table "
                                      "goes to stderr)");
  app.add_option("--latencies", latencies_path,
                 "write every acceptance latency (ms, in order of acceptance) to FILE, one a line: "
                 "percentiles over several generators' runs at once");
  app.add_option("--label", label, "a name for this run in the report");
  app.add_flag("--quiet,-q", quiet, "no table");
  CLI11_PARSE(app, argc, argv);

  load.pipelining = !no_pipelining;
  load.step_timeout = std::chrono::seconds(timeout_s);
  if (load.size < minimum_message_size(load)) {
    std::cerr << fmt::format("missive-bench: --size must be at least {} (the headers)\n",
                             minimum_message_size(load));
    return exit_usage;
  }
  if (pop3_port) {
    if (user.empty()) user = load.to;
    if (password.empty()) {
      const char* env = std::getenv("MISSIVE_BENCH_PASSWORD");
      if (env != nullptr) password = env;
    }
    if (password.empty()) {
      std::cerr << "missive-bench: --pop3-port needs --password or MISSIVE_BENCH_PASSWORD\n";
      return exit_usage;
    }
  }

  asio::io_context io(1);
  auto address = resolve(io, host);
  if (!address) {
    std::cerr << fmt::format("missive-bench: cannot resolve {}\n", host);
    return exit_unavailable;
  }
  load.endpoint = asio::ip::tcp::endpoint(*address, port);

  run_report report;
  report.label = label;
  report.host = host;
  report.port = port;
  lag_tracker tracker;
  watch_options watch;
  bool load_done = false;
  if (pop3_port) {
    watch.endpoint = asio::ip::tcp::endpoint(*address, *pop3_port);
    watch.user = user;
    watch.password = password;
    watch.interval = std::chrono::milliseconds(poll_interval_ms);
    watch.drain_timeout = std::chrono::seconds(drain_timeout_s);
    watch.step_timeout = load.step_timeout;
    watch.keep = keep;
  }
  pop3_watch watcher(io, watch, tracker, load_done, report.watch);
  smtp_load generator(io, load, report.load, pop3_port ? &tracker : nullptr);

  double cpu_at_start = 0;
  auto started = bench_clock::now();
  bool load_started = false;
  std::function<void()> start_load = [&] {
    load_started = true;
    cpu_at_start = cpu_seconds();
    started = bench_clock::now();
    generator.start([&] {
      load_done = true;
      report.generator_cpu_s = cpu_seconds() - cpu_at_start;
      report.load_elapsed_s = std::chrono::duration<double>(bench_clock::now() - started).count();
    });
  };
  if (pop3_port) {
    // The watcher starts the load once it has cleared the mailbox.
    asio::co_spawn(io, watcher.run(start_load), [&](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        report.watch.fatal = std::string("internal error: ") + ex.what();
      }
      if (!load_started) start_load();
    });
  } else {
    start_load();
  }
  io.run();

  report.options = load;
  if (pop3_port) {
    report.lag_measured = true;
    report.lags_ms = tracker.lags_ms();
    report.lag_missing = tracker.missing();
    report.lag_strangers = tracker.strangers();
    report.poll_interval = watch.interval;
  }

  if (!latencies_path.empty()) {
    std::ofstream out(latencies_path);
    for (double ms : report.load.latencies_ms) out << fmt::format("{:.3f}\n", ms);
    if (!out) {
      std::cerr << fmt::format("missive-bench: cannot write {}\n", latencies_path);
      return 1;
    }
  }

  std::string table = format_table(report);
  if (json_path == "-") {
    std::cout << format_json(report) << '\n';
    if (!quiet) std::cerr << table;
  } else {
    if (!quiet) std::cout << table;
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << format_json(report) << '\n';
      if (!out) {
        std::cerr << fmt::format("missive-bench: cannot write {}\n", json_path);
        return 1;
      }
    }
  }
  return clean(report) ? 0 : 1;
}
