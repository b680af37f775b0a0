// Watching a POP3 mailbox for end-to-end lag: see pop3_watch.hpp.
#include "pop3_watch.hpp"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <optional>
#include <vector>

#include "bench_connection.hpp"

namespace missive::bench {

namespace {

// Polls that fail in a row before the watch gives up (e.g. the server is gone).
constexpr std::size_t max_failures_in_a_row = 50;

double ms_since(bench_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(bench_clock::now() - start).count();
}

}  // namespace

pop3_watch::pop3_watch(asio::io_context& io, const watch_options& options, lag_tracker& tracker,
                       const bool& load_done, watch_stats& stats)
    : io_(io), options_(options), tracker_(tracker), load_done_(load_done), stats_(stats) {}

void pop3_watch::poll_failed(const std::string& why) {
  ++stats_.failed_polls;
  ++stats_.errors[why];
}

asio::awaitable<bool> pop3_watch::status_ok(connection& conn, const char* step) {
  bool read = co_await conn.read_line(last_line_);
  if (!read) {
    poll_failed(fmt::format("{}: {}", step, conn.error()));
    co_return false;
  }
  if (last_line_.rfind("+OK", 0) == 0) co_return true;
  poll_failed(fmt::format("{}: {}", step, last_line_.substr(0, 80)));
  co_return false;
}

asio::awaitable<bool> pop3_watch::command(connection& conn, const std::string& line,
                                          const char* step) {
  bool sent = co_await conn.write(line);
  if (!sent) {
    poll_failed(fmt::format("{}: {}", step, conn.error()));
    co_return false;
  }
  bool ok = co_await status_ok(conn, step);
  co_return ok;
}

asio::awaitable<bool> pop3_watch::read_capabilities(connection& conn) {
  // RFC 2449: learn once whether DELE commands may go out together (PIPELINING).
  std::string capa = "CAPA\r\n";
  bool sent = co_await conn.write(capa);
  if (!sent) {
    poll_failed("CAPA: " + conn.error());
    co_return false;
  }
  std::string line;
  bool answered = co_await conn.read_line(line);
  if (!answered) {
    poll_failed("CAPA: " + conn.error());
    co_return false;
  }
  if (line.rfind("+OK", 0) != 0) co_return true;  // no CAPA: no PIPELINING either
  for (std::size_t i = 0; i < 1000; ++i) {
    bool read = co_await conn.read_line(line);
    if (!read) {
      poll_failed("CAPA: " + conn.error());
      co_return false;
    }
    if (line == ".") co_return true;
    if (line == "PIPELINING") pipelining_ = true;
  }
  poll_failed("CAPA: endless listing");
  co_return false;
}

asio::awaitable<bool> pop3_watch::list_and_delete(connection& conn) {
  std::string uidl = "UIDL\r\n";
  bool ok = co_await command(conn, uidl, "UIDL");
  if (!ok) co_return false;
  std::vector<std::string> numbers;
  std::string line;
  for (;;) {
    bool read = co_await conn.read_line(line);
    if (!read) {
      poll_failed("UIDL: " + conn.error());
      co_return false;
    }
    if (line == ".") break;
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    std::string uid = line.substr(space + 1);
    auto dot = uid.rfind('.');
    tracker_.seen(dot == std::string::npos ? uid : uid.substr(0, dot), bench_clock::now());
    numbers.push_back(line.substr(0, space));
    ++stats_.listed;
  }
  if (options_.keep) co_return true;
  // Deletions happen at QUIT (RFC 1939 6); with PIPELINING they go out in one write.
  std::size_t pending = 0;
  std::string batch;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    batch += fmt::format("DELE {}\r\n", numbers[i]);
    ++pending;
    if (pipelining_ && i + 1 < numbers.size()) continue;
    bool sent = co_await conn.write(batch);
    if (!sent) {
      poll_failed("DELE: " + conn.error());
      co_return false;
    }
    for (; pending > 0; --pending) {
      bool deleted = co_await status_ok(conn, "DELE");
      if (!deleted) co_return false;
    }
    batch.clear();
  }
  co_return true;
}

asio::awaitable<bool> pop3_watch::poll_once() {
  auto started = bench_clock::now();
  connection conn(io_.get_executor(), options_.step_timeout);
  bool connected = co_await conn.connect(options_.endpoint);
  if (!connected) {
    poll_failed("connect: " + conn.error());
    co_return false;
  }
  bool greeted = co_await status_ok(conn, "greeting");
  if (!greeted) co_return false;
  if (!capabilities_known_) {
    bool known = co_await read_capabilities(conn);
    if (!known) co_return false;
    capabilities_known_ = true;
  }
  std::string user = fmt::format("USER {}\r\n", options_.user);
  bool user_ok = co_await command(conn, user, "USER");
  if (!user_ok) co_return false;
  std::string pass = fmt::format("PASS {}\r\n", options_.password);
  auto login_started = bench_clock::now();
  bool logged_in = co_await command(conn, pass, "PASS");
  if (!logged_in) {
    // A refused password will not get better (and missived bans after a few): stop. A
    // locked maildrop or a temporary failure is worth another poll.
    bool temporary = last_line_.find("[IN-USE]") != std::string::npos ||
                     last_line_.find("[SYS/TEMP]") != std::string::npos;
    if (!temporary && !last_line_.empty()) {
      stats_.fatal = "POP3 login refused: " + last_line_.substr(0, 80);
    }
    co_return false;
  }
  double login_ms = ms_since(login_started);
  stats_.login_ms_total += login_ms;
  stats_.login_ms_max = std::max(stats_.login_ms_max, login_ms);
  bool listed = co_await list_and_delete(conn);
  if (!listed) co_return false;
  std::string quit = "QUIT\r\n";
  bool quit_ok = co_await command(conn, quit, "QUIT");
  if (!quit_ok) co_return false;
  stats_.poll_ms_total += ms_since(started);
  co_return true;
}

asio::awaitable<void> pop3_watch::run(const std::function<void()>& on_ready) {
  asio::steady_timer pause(io_);
  std::optional<bench_clock::time_point> drain_deadline;
  std::size_t failures_in_a_row = 0;
  // Before the load: one poll that deletes earlier runs' mail, so that no poll during the
  // load pays for it. Its sightings are strangers by definition.
  bool cleared = co_await poll_once();
  if (!cleared && !stats_.fatal.empty()) {
    on_ready();
    co_return;
  }
  stats_.failed_polls = 0;
  stats_.errors.clear();
  stats_.login_ms_total = stats_.login_ms_max = stats_.poll_ms_total = 0;
  stats_.cleared = stats_.listed;
  stats_.listed = 0;
  on_ready();
  for (;;) {
    auto started = bench_clock::now();
    ++stats_.polls;
    bool ok = co_await poll_once();
    failures_in_a_row = ok ? 0 : failures_in_a_row + 1;
    if (!stats_.fatal.empty()) co_return;
    if (failures_in_a_row >= max_failures_in_a_row) {
      stats_.fatal = fmt::format("{} polls failed in a row", failures_in_a_row);
      co_return;
    }
    if (load_done_) {
      if (!drain_deadline) drain_deadline = bench_clock::now() + options_.drain_timeout;
      if (tracker_.all_seen() || bench_clock::now() >= *drain_deadline) co_return;
    }
    pause.expires_at(started + options_.interval);
    std::error_code ignored;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

}  // namespace missive::bench
