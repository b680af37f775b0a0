// The SMTP load: N messages of exactly S octets over C concurrent sessions, K messages per
// session (K = 1: a new connection for every message). Each worker takes the next K
// messages, opens a session, sends them and quits, until all N are taken.
//
// With PIPELINING (RFC 2920) advertised and allowed, MAIL, RCPT and DATA go out in one
// write, and the message content (with QUIT behind the last message of the session) in
// another: two round trips per message. Otherwise one command per round trip.
//
// Every message ends accepted (250 after DATA) or failed with one counted reason; a reply
// that is not the expected positive one is an error, never ignored. A session that breaks
// fails the messages it had not yet sent, so the counts always add up to N.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench_connection.hpp"
#include "lag_tracker.hpp"

namespace missive::bench {

// What to send and how.
struct load_options {
  asio::ip::tcp::endpoint endpoint;
  std::size_t messages = 1000;
  std::size_t size = 1024;            // octets of message content, headers included
  std::size_t concurrency = 10;
  std::size_t per_session = 1;
  std::string from = "bench@bench.test";
  std::string to = "bench@bench.test";
  std::size_t recipients = 1;         // RCPTs per message: `to` itself, or numbered copies of it
  std::string helo = "bench.test";
  std::chrono::seconds step_timeout{30};
  bool pipelining = true;             // use PIPELINING when the server offers it
};

// What happened.
struct load_stats {
  std::size_t accepted = 0;
  std::size_t failed = 0;                       // messages not accepted
  std::size_t sessions = 0;
  std::size_t greeted_sessions = 0;             // sessions that got through EHLO/HELO
  std::size_t pipelined_sessions = 0;           // sessions in which PIPELINING was used
  std::map<std::string, std::size_t> errors;    // each non-positive outcome, with counts
  std::vector<double> latencies_ms;             // MAIL sent -> 250 after DATA read
  std::optional<bench_clock::time_point> first_connect;
  std::optional<bench_clock::time_point> last_accept;
  std::size_t missing_queue_ids = 0;            // 250s without "queued as ID"
};

// The smallest message size the fixed headers leave room for.
std::size_t minimum_message_size(const load_options& options);

// The envelope recipients of every message: `to` alone, or with more than one, `to`'s local
// part numbered 1..n ("u@d" -> "u1@d", ..., "un@d").
std::vector<std::string> envelope_recipients(const load_options& options);

// Runs the load; `tracker` (if not null) learns each queue id and when it was accepted.
class smtp_load {
 public:
  smtp_load(asio::io_context& io, const load_options& options, load_stats& stats,
            lag_tracker* tracker);

  // Starts `concurrency` workers; `on_done` is called once all of them have finished.
  void start(std::function<void()> on_done);

 private:
  // Takes K messages at a time and sends them in one session, until none are left.
  asio::awaitable<void> worker();
  // What a session learned from EHLO, and whether QUIT went out behind the last message.
  struct session_traits {
    bool pipelining = false;
    bool size = false;
    bool quit_sent = false;
  };
  // One session sending messages first .. first + count - 1.
  asio::awaitable<void> session(std::size_t first, std::size_t count);
  // Sends one message in an open session (its wire form built in `out`); false if the
  // session is broken, after counting the message as failed.
  asio::awaitable<bool> send_message(connection& conn, session_traits& traits, std::size_t number,
                                     bool last, std::string& out);
  // EHLO (HELO if refused); false if the session cannot go on.
  asio::awaitable<bool> hello(connection& conn, session_traits& traits);
  // Sends one command line and reads its reply; false if the connection failed.
  asio::awaitable<bool> exchange(connection& conn, const std::string& line, smtp_reply& reply);

  // Counts one error of `kind`.
  void error(const std::string& kind);
  // Counts `count` messages as failed because the session broke at `step`.
  void fail_messages(std::size_t count, const std::string& step, const std::string& why);
  // Appends the content of message `number` to `out`, dot-stuffed, with the final ".".
  void append_content(std::string& out, std::size_t number) const;

  asio::io_context& io_;
  const load_options& options_;
  load_stats& stats_;
  lag_tracker* tracker_;
  std::size_t next_ = 0;            // the next message not yet taken by a worker
  std::string content_;             // the dot-stuffed template, with its final "."
  std::string rcpt_lines_;          // "RCPT TO:<...>\r\n" for every envelope recipient
  std::size_t rcpt_count_ = 0;
  std::size_t number_offset_ = 0;   // where the message number is written into content_
  std::size_t active_workers_ = 0;
  std::function<void()> on_done_;
};

}  // namespace missive::bench
