// The SMTP load: see smtp_load.hpp.
#include "smtp_load.hpp"

#include <asio/co_spawn.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <exception>

#include "dot_stuffing.hpp"

namespace missive::bench {

namespace {

// Width of the message number in the Subject header (zero-padded).
constexpr std::size_t number_width = 10;
// Characters of a full body line before its CRLF (RFC 5322 2.1.1: should be at most 78).
constexpr std::size_t body_line = 78;
// Distinct error kinds kept; the rest are counted together.
constexpr std::size_t max_error_kinds = 40;

// The fixed header block, ending with the empty line; `pad` extra spaces after "Subject:".
std::string header_block(const load_options& options, std::size_t pad) {
  return fmt::format("From: <{}>\r\nTo: <{}>\r\nSubject:{}missive-bench {:0{}}\r\n\r\n",
                     options.from, options.to, std::string(pad + 1, ' '), 0, number_width);
}

// "250 2.0.0 Ok: queued as X" -> "X"; empty when the reply names no queue id.
std::string queue_id_of(const smtp_reply& reply) {
  constexpr std::string_view marker = "queued as ";
  auto at = reply.text.find(marker);
  if (at == std::string::npos) return {};
  auto start = at + marker.size();
  auto end = reply.text.find_first_of(" \n", start);
  return reply.text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// A reply as an error kind: "RCPT 550 5.1.1 first line of text".
std::string describe(const char* step, const smtp_reply& reply) {
  std::string text = reply.text.substr(0, std::min(reply.text.find('\n'), std::size_t(60)));
  if (reply.enhanced.empty()) return fmt::format("{} {} {}", step, reply.code, text);
  return fmt::format("{} {} {} {}", step, reply.code, reply.enhanced, text);
}

bool positive(const smtp_reply& reply) { return reply.code / 100 == 2; }

// What an EHLO reply offers that we use: PIPELINING and SIZE.
void read_extensions(const std::string& text, bool& pipelining, bool& size) {
  std::size_t pos = text.find('\n');  // the first line is the server's greeting
  while (pos != std::string::npos) {
    std::size_t start = pos + 1;
    pos = text.find('\n', start);
    std::string line = text.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
    std::transform(line.begin(), line.end(), line.begin(),
                   [](char c) { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; });
    if (line == "PIPELINING") pipelining = true;
    if (line == "SIZE" || line.rfind("SIZE ", 0) == 0) size = true;  // RFC 1870
  }
}

}  // namespace

std::size_t minimum_message_size(const load_options& options) {
  return header_block(options, 0).size();
}

std::vector<std::string> envelope_recipients(const load_options& options) {
  if (options.recipients <= 1) return {options.to};
  auto at = options.to.rfind('@');
  std::string local = options.to.substr(0, at);
  std::string domain = at == std::string::npos ? std::string() : options.to.substr(at);
  std::vector<std::string> all;
  for (std::size_t i = 1; i <= options.recipients; ++i) all.push_back(fmt::format("{}{}{}", local, i, domain));
  return all;
}

smtp_load::smtp_load(asio::io_context& io, const load_options& options, load_stats& stats,
                     lag_tracker* tracker)
    : io_(io), options_(options), stats_(stats), tracker_(tracker) {
  // Headers, then lines of text up to exactly `size` octets. One octet left over cannot be
  // a line (a line needs its CRLF), so then the Subject gets one more space instead.
  std::size_t pad = options.size > minimum_message_size(options) &&
                            options.size - minimum_message_size(options) == 1
                        ? 1
                        : 0;
  std::string text = header_block(options, pad);
  std::size_t left = options.size > text.size() ? options.size - text.size() : 0;
  std::size_t line_number = 0;
  while (left > 0) {
    std::size_t n = std::min(left, body_line + 2);
    if (left - n == 1) n -= 2;  // never leave a single octet behind
    char fill = char('a' + line_number++ % 26);
    text.append(n - 2, fill);
    text += "\r\n";
    left -= n;
  }
  append_dot_stuffed(content_, text);
  number_offset_ = text.find("\r\n\r\n") - number_width;  // the number ends the Subject line
  for (const auto& address : envelope_recipients(options)) {
    rcpt_lines_ += fmt::format("RCPT TO:<{}>\r\n", address);
    ++rcpt_count_;
  }
}

void smtp_load::append_content(std::string& out, std::size_t number) const {
  std::size_t base = out.size();
  out += content_;
  auto digits = fmt::format("{:0{}}", number % 10'000'000'000ULL, number_width);
  out.replace(base + number_offset_, number_width, digits);
}

void smtp_load::error(const std::string& kind) {
  if (stats_.errors.size() >= max_error_kinds && !stats_.errors.contains(kind)) {
    ++stats_.errors["(other errors)"];
    return;
  }
  ++stats_.errors[kind];
}

void smtp_load::fail_messages(std::size_t count, const std::string& step, const std::string& why) {
  if (count == 0) return;
  stats_.failed += count;
  std::string kind = step + ": " + why;
  if (stats_.errors.size() >= max_error_kinds && !stats_.errors.contains(kind)) {
    kind = "(other errors)";
  }
  stats_.errors[kind] += count;
}

void smtp_load::start(std::function<void()> on_done) {
  on_done_ = std::move(on_done);
  std::size_t sessions = (options_.messages + options_.per_session - 1) / options_.per_session;
  active_workers_ = std::min(options_.concurrency, sessions);
  if (active_workers_ == 0) {
    on_done_();
    return;
  }
  for (std::size_t i = 0, n = active_workers_; i < n; ++i) {
    asio::co_spawn(io_, worker(), [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          error(std::string("internal error: ") + ex.what());
        }
      }
      if (--active_workers_ == 0) on_done_();
    });
  }
}

asio::awaitable<void> smtp_load::worker() {
  while (next_ < options_.messages) {
    std::size_t first = next_;
    std::size_t count = std::min(options_.per_session, options_.messages - next_);
    next_ += count;
    co_await session(first, count);
  }
}

asio::awaitable<bool> smtp_load::exchange(connection& conn, const std::string& line,
                                          smtp_reply& reply) {
  bool sent = co_await conn.write(line);
  if (!sent) co_return false;
  bool answered = co_await conn.read_reply(reply);
  co_return answered;
}

asio::awaitable<bool> smtp_load::hello(connection& conn, session_traits& traits) {
  std::string ehlo = fmt::format("EHLO {}\r\n", options_.helo);
  smtp_reply reply;
  bool answered = co_await exchange(conn, ehlo, reply);
  if (!answered) co_return false;
  if (reply.code == 250) {
    read_extensions(reply.text, traits.pipelining, traits.size);
    traits.pipelining = traits.pipelining && options_.pipelining;
    co_return true;
  }
  error(describe("EHLO", reply));
  // RFC 5321 3.2: a server that does not know EHLO is greeted with HELO.
  std::string helo = fmt::format("HELO {}\r\n", options_.helo);
  answered = co_await exchange(conn, helo, reply);
  if (!answered) co_return false;
  if (reply.code != 250) {
    error(describe("HELO", reply));
    conn.close();
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> smtp_load::session(std::size_t first, std::size_t count) {
  ++stats_.sessions;
  connection conn(io_.get_executor(), options_.step_timeout);
  if (!stats_.first_connect) stats_.first_connect = bench_clock::now();
  bool connected = co_await conn.connect(options_.endpoint);
  if (!connected) {
    fail_messages(count, "connect", conn.error());
    co_return;
  }
  smtp_reply greeting;
  bool greeted = co_await conn.read_reply(greeting);
  if (!greeted) {
    fail_messages(count, "greeting", conn.error());
    co_return;
  }
  if (greeting.code != 220) {
    fail_messages(count, "greeting", describe("", greeting));
    co_return;
  }
  session_traits traits;
  bool ready = co_await hello(conn, traits);
  if (!ready) {
    fail_messages(count, "EHLO/HELO", conn.error().empty() ? "refused" : conn.error());
    co_return;
  }
  ++stats_.greeted_sessions;
  if (traits.pipelining) ++stats_.pipelined_sessions;
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    bool last = i + 1 == count;
    bool alive = co_await send_message(conn, traits, first + i, last, out);
    if (!alive) {
      fail_messages(count - i - 1, "not sent", "the session broke before");
      co_return;
    }
  }
  smtp_reply bye;
  if (!traits.quit_sent) {
    std::string quit = "QUIT\r\n";
    bool sent = co_await conn.write(quit);
    if (!sent) {
      error("QUIT: " + conn.error());
      co_return;
    }
  }
  bool answered = co_await conn.read_reply(bye);
  if (!answered) {
    error("QUIT: " + conn.error());
    co_return;
  }
  if (bye.code != 221) error(describe("QUIT", bye));
  co_await conn.wait_for_close();
}

asio::awaitable<bool> smtp_load::send_message(connection& conn, session_traits& traits,
                                              std::size_t number, bool last, std::string& out) {
  std::string mail = traits.size ? fmt::format("MAIL FROM:<{}> SIZE={}\r\n", options_.from, options_.size)
                                 : fmt::format("MAIL FROM:<{}>\r\n", options_.from);
  std::string data = "DATA\r\n";
  smtp_reply mail_reply, rcpt_reply, data_reply;  // rcpt_reply: the first refusal, else the last
  auto started = bench_clock::now();
  // Reads the RCPT replies in turn, keeping the first that is not positive.
  bool read = true;
  if (traits.pipelining) {
    // RFC 2920 3.1: MAIL and RCPT may be followed by more; DATA ends the group.
    out = mail + rcpt_lines_ + data;
    read = co_await conn.write(out);
    if (read) read = co_await conn.read_reply(mail_reply);
    for (std::size_t i = 0; read && i < rcpt_count_; ++i) {
      smtp_reply reply;
      read = co_await conn.read_reply(reply);
      if (read && (i == 0 || positive(rcpt_reply))) rcpt_reply = reply;
    }
    if (read) read = co_await conn.read_reply(data_reply);
  } else {
    read = co_await exchange(conn, mail, mail_reply);
    for (std::size_t at = 0; read && positive(mail_reply) && at < rcpt_lines_.size();) {
      std::size_t end = rcpt_lines_.find('\n', at) + 1;
      std::string line = rcpt_lines_.substr(at, end - at);
      smtp_reply reply;
      read = co_await exchange(conn, line, reply);
      if (read && (at == 0 || positive(rcpt_reply))) rcpt_reply = reply;
      at = end;
    }
    if (read && positive(mail_reply) && positive(rcpt_reply)) {
      read = co_await exchange(conn, data, data_reply);
    }
  }
  if (!read) {
    fail_messages(1, "MAIL/RCPT/DATA", conn.error());
    co_return false;
  }
  // The first refusal is the message's reason; a server that says 354 anyway gets the
  // content, since it now reads everything up to the final "." as message text.
  std::string refusal;
  if (!positive(mail_reply)) refusal = describe("MAIL", mail_reply);
  else if (!positive(rcpt_reply)) refusal = describe("RCPT", rcpt_reply);
  else if (data_reply.code != 354) refusal = describe("DATA", data_reply);
  if (data_reply.code != 354) {
    fail_messages(1, "refused", refusal);
    std::string rset = "RSET\r\n";
    smtp_reply rset_reply;
    bool reset = co_await exchange(conn, rset, rset_reply);
    if (!reset) co_return false;
    if (rset_reply.code != 250) error(describe("RSET", rset_reply));
    co_return true;
  }
  out.clear();
  append_content(out, number);
  // RFC 2920 3.1: the message content may be followed by QUIT in the same group.
  if (last && traits.pipelining) {
    out += "QUIT\r\n";
    traits.quit_sent = true;
  }
  smtp_reply end_reply;
  bool sent = co_await conn.write(out);
  bool answered = sent;
  if (answered) answered = co_await conn.read_reply(end_reply);
  if (!answered) {
    fail_messages(1, "end of data", conn.error());
    co_return false;
  }
  auto finished = bench_clock::now();
  if (!refusal.empty() || end_reply.code != 250) {
    fail_messages(1, "refused", refusal.empty() ? describe("end of data", end_reply) : refusal);
    co_return true;
  }
  ++stats_.accepted;
  stats_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(finished - started).count());
  stats_.last_accept = finished;
  std::string queue_id = queue_id_of(end_reply);
  if (queue_id.empty()) ++stats_.missing_queue_ids;
  if (tracker_ != nullptr && !queue_id.empty()) tracker_->accepted(queue_id, finished);
  co_return true;
}

}  // namespace missive::bench
