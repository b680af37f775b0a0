// Watches a POP3 mailbox for the messages a load run sent, to measure end-to-end lag
// (250 after DATA -> visible in the mailbox). A POP3 session sees the maildrop as it was at
// login (RFC 1939 8), so each poll is a new login: USER, PASS, UIDL, DELE of what it
// listed (unless told to keep it, so the listing stays short), QUIT. missived's unique-id of
// a delivered message is "<queue id>.<n>", so the queue id is the uid up to its last dot.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>

#include "bench_connection.hpp"
#include "lag_tracker.hpp"

namespace missive::bench {

// How to poll.
struct watch_options {
  asio::ip::tcp::endpoint endpoint;
  std::string user;
  std::string password;
  std::chrono::milliseconds interval{5};        // from the start of one poll to the next
  std::chrono::seconds drain_timeout{30};       // after the load: wait this long for stragglers
  std::chrono::seconds step_timeout{30};
  bool keep = false;                            // no DELE: the mailbox keeps what it got
};

// What the polls did.
struct watch_stats {
  std::size_t polls = 0;
  std::size_t failed_polls = 0;
  std::map<std::string, std::size_t> errors;    // why polls failed, with counts
  double login_ms_total = 0;                    // PASS -> +OK, summed over polls
  double login_ms_max = 0;
  double poll_ms_total = 0;                     // whole polls (connect to QUIT's +OK)
  std::size_t listed = 0;                       // UIDL lines read, over all polls
  std::size_t cleared = 0;                      // listed (and deleted) before the load
  std::string fatal;                            // set when polling stopped for good
};

// Polls one mailbox until the load is done and every accepted message was seen, or the
// drain timeout passed after the load ended.
class pop3_watch {
 public:
  // Polls as `options` say, reporting sightings to `tracker`; `load_done` turns true when
  // the load has ended.
  pop3_watch(asio::io_context& io, const watch_options& options, lag_tracker& tracker,
             const bool& load_done, watch_stats& stats);

  // Polls until done (see the class comment). The first poll clears what earlier runs left
  // in the mailbox (unless keep); `on_ready` is called after it, to start the load.
  asio::awaitable<void> run(const std::function<void()>& on_ready);

 private:
  // One login, listing and logout; false if it failed (the reason is in stats_.errors).
  asio::awaitable<bool> poll_once();
  // Reads one "+OK"/"-ERR" status line; false when it is not +OK or the connection failed.
  asio::awaitable<bool> status_ok(connection& conn, const char* step);
  // Sends `line` and reads its status line, as status_ok.
  asio::awaitable<bool> command(connection& conn, const std::string& line, const char* step);
  // CAPA (RFC 2449), once: whether the server allows PIPELINING; false if the poll failed.
  asio::awaitable<bool> read_capabilities(connection& conn);
  // UIDL, reporting each queue id to the tracker, then DELE of all listed (unless keep).
  asio::awaitable<bool> list_and_delete(connection& conn);
  // Counts a failed poll.
  void poll_failed(const std::string& why);

  asio::io_context& io_;
  const watch_options& options_;
  lag_tracker& tracker_;
  const bool& load_done_;
  watch_stats& stats_;
  bool capabilities_known_ = false;
  bool pipelining_ = false;
  std::string last_line_;
};

}  // namespace missive::bench
