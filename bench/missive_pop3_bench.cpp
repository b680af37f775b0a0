// missive-pop3-bench: a POP3 retrieval benchmark client (issue 20). One connection, as a mail
// client runs it: USER/PASS, STAT, UIDL, RETR of every message, QUIT without deleting; or,
// with --delete, DELE of every message after retrieving it and QUIT, timing the UPDATE state.
// Reports messages/s and MB/s of retrieval and the login-to-UIDL latency, for any server.
//
//   missive-pop3-bench --port 2110 --user u@bench.test --password pw
//   missive-pop3-bench --port 2110 --user u@bench.test --delete --json run.json
//
// Exit status: 0 when the session went as planned (every message retrieved, and deleted with
// --delete, and the octets retrieved are those STAT announced); 1 otherwise; 64 bad usage,
// 69 when the host cannot be resolved.
#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <fmt/format.h>
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "pop3_retrieval.hpp"

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

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + '"';
}

double per_second(double count, double seconds) { return seconds > 0 ? count / seconds : 0; }

// What the run counts as a failure beyond a network or protocol error.
std::string check(const retrieval_options& options, const retrieval_report& r) {
  if (!r.error.empty()) return r.error;
  if (r.uidl_lines != r.stat_messages) {
    return fmt::format("UIDL listed {} messages, STAT {}", r.uidl_lines, r.stat_messages);
  }
  if (options.retrieve && r.retrieved_octets != r.stat_octets) {
    return fmt::format("retrieved {} octets, STAT announced {}", r.retrieved_octets, r.stat_octets);
  }
  return "";
}

struct outcome {
  std::string label;
  std::string host;
  unsigned short port = 0;
  retrieval_options options;
  retrieval_report report;
  double client_cpu_s = 0;
  std::string failure;
};

std::string format_table(const outcome& o) {
  const auto& r = o.report;
  std::string out = fmt::format("missive-pop3-bench {}{}:{} user {}, window {}\n",
                                o.label.empty() ? "" : o.label + ": ", o.host, o.port,
                                o.options.user, o.options.window);
  out += fmt::format("  maildrop   {} messages, {} octets (STAT); UIDL {} lines\n", r.stat_messages,
                     r.stat_octets, r.uidl_lines);
  out += fmt::format("  connect    {:.2f} ms to the greeting; login {:.2f} ms; login -> UIDL done {:.2f} ms\n",
                     r.connect_ms, r.login_ms, r.login_to_uidl_ms);
  if (o.options.retrieve) {
    out += fmt::format("  retrieval  {} messages, {} octets in {:.3f} s: {:.0f} msg/s, {:.1f} MB/s\n",
                       r.retrieved, r.retrieved_octets, r.retrieve_s,
                       per_second(double(r.retrieved), r.retrieve_s),
                       per_second(double(r.retrieved_octets) / 1e6, r.retrieve_s));
  }
  if (o.options.remove) {
    out += fmt::format("  delete     {} DELE in {:.3f} s; QUIT (update) {:.2f} ms: {}\n", r.deleted,
                       r.dele_s, r.quit_ms, r.quit_text);
  } else {
    out += fmt::format("  quit       {:.2f} ms: {}\n", r.quit_ms, r.quit_text);
  }
  if (o.options.digest) out += fmt::format("  digest     {:016x}\n", r.digest);
  out += fmt::format("  client     {:.3f} s CPU over a {:.3f} s session\n", o.client_cpu_s, r.session_s);
  out += o.failure.empty() ? "  result     clean\n" : "  result     FAILED: " + o.failure + "\n";
  return out;
}

std::string format_json(const outcome& o) {
  const auto& r = o.report;
  return fmt::format(
      R"({{"label":{},"host":{},"port":{},"user":{},"window":{},"retrieve":{},"delete":{},)"
      R"("stat_messages":{},"stat_octets":{},"uidl_lines":{},"connect_ms":{:.3f},"login_ms":{:.3f},)"
      R"("login_to_uidl_ms":{:.3f},"retrieved":{},"retrieved_octets":{},"retrieve_s":{:.6f},)"
      R"("msgs_per_s":{:.1f},"mb_per_s":{:.2f},"deleted":{},"dele_s":{:.6f},"quit_ms":{:.3f},)"
      R"("quit_ok":{},"quit_text":{},"digest":{},"session_s":{:.6f},"client_cpu_s":{:.3f},)"
      R"("clean":{},"error":{}}})",
      json_string(o.label), json_string(o.host), o.port, json_string(o.options.user),
      o.options.window, o.options.retrieve, o.options.remove, r.stat_messages, r.stat_octets,
      r.uidl_lines, r.connect_ms, r.login_ms, r.login_to_uidl_ms, r.retrieved, r.retrieved_octets,
      r.retrieve_s, per_second(double(r.retrieved), r.retrieve_s),
      per_second(double(r.retrieved_octets) / 1e6, r.retrieve_s), r.deleted, r.dele_s, r.quit_ms,
      r.quit_ok, json_string(r.quit_text),
      o.options.digest ? json_string(fmt::format("{:016x}", r.digest)) : std::string("null"),
      r.session_s, o.client_cpu_s, o.failure.empty(),
      o.failure.empty() ? std::string("null") : json_string(o.failure));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "missive-pop3-bench: POP3 retrieval benchmark. One session, as a mail client runs it: "
      "USER/PASS, STAT, UIDL, RETR of every message, QUIT without deleting (--delete: DELE "
      "of every message after retrieving them all, then QUIT, whose answer comes after the "
      "server's UPDATE state). Reports retrieval messages/s and MB/s (10^6 octets of message, "
      "byte-stuffing removed, over first RETR sent to the last one's end), login -> UIDL done "
      "latency (USER sent to the listing's end: USER, PASS, STAT, UIDL), and the QUIT time.\n"
      "Exit status: 0 if the session went as planned and the octets retrieved are those STAT "
      "announced, else 1."};
  app.option_defaults()->always_capture_default();

  outcome o;
  o.host = "127.0.0.1";
  int timeout_s = 600;
  std::string json_path;
  bool quiet = false;
  bool no_retrieve = false;
  app.add_option("--host", o.host, "server address (an IPv4/IPv6 literal)");
  app.add_option("--port", o.port, "POP3 port")->required();
  app.add_option("--user", o.options.user, "user name, as the server wants it")->required();
  app.add_option("--password", o.options.password, "password (default: $MISSIVE_BENCH_PASSWORD)");
  app.add_flag("--delete", o.options.remove, "DELE every message, then time QUIT (the UPDATE state)");
  app.add_flag("--no-retrieve", no_retrieve, "skip the RETRs (log in, STAT, UIDL, [DELE,] QUIT)");
  app.add_flag("--digest", o.options.digest,
               "hash every message (FNV-1a, summed over messages: order does not matter) to "
               "check that two servers serve the same octets; costs client CPU");
  app.add_option("--window", o.options.window,
                 "RETR/DELE commands in flight at once (1: one at a time, as most clients do; "
                 "more needs the server's PIPELINING, RFC 2449 6.6)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--timeout", timeout_s, "seconds allowed for the whole session")->check(CLI::Range(1, 86400));
  app.add_option("--json", json_path, "write the report as JSON to FILE ('-': stdout, the table to stderr)");
  app.add_option("--label", o.label, "a name for this run in the report");
  app.add_flag("--quiet,-q", quiet, "no table");
  CLI11_PARSE(app, argc, argv);

  o.options.retrieve = !no_retrieve;
  o.options.timeout = std::chrono::seconds(timeout_s);
  if (o.options.password.empty()) {
    const char* env = std::getenv("MISSIVE_BENCH_PASSWORD");
    if (env != nullptr) o.options.password = env;
  }
  if (o.options.password.empty()) {
    std::cerr << "missive-pop3-bench: needs --password or MISSIVE_BENCH_PASSWORD\n";
    return exit_usage;
  }
  std::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) {
    std::cerr << fmt::format("missive-pop3-bench: not an address: {}\n", o.host);
    return exit_unavailable;
  }
  o.options.endpoint = asio::ip::tcp::endpoint(address, o.port);

  asio::io_context io(1);
  const double cpu_start = cpu_seconds();
  asio::co_spawn(io, run_retrieval(o.options, o.report), [&o](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      o.report.error = std::string("internal error: ") + ex.what();
    }
  });
  io.run();
  o.client_cpu_s = cpu_seconds() - cpu_start;
  o.failure = check(o.options, o.report);

  std::string table = format_table(o);
  if (json_path == "-") {
    std::cout << format_json(o) << '\n';
    if (!quiet) std::cerr << table;
  } else {
    if (!quiet) std::cout << table;
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << format_json(o) << '\n';
      if (!out) {
        std::cerr << fmt::format("missive-pop3-bench: cannot write {}\n", json_path);
        return 1;
      }
    }
  }
  return o.failure.empty() ? 0 : 1;
}
