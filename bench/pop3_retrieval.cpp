// One timed POP3 retrieval session: see pop3_retrieval.hpp.
//
// As in bench_connection.hpp: results of co_await are kept in named variables before they
// are tested, and coroutines take class-type arguments only by reference to objects their
// caller keeps alive (GCC 12).
#include "pop3_retrieval.hpp"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <string_view>
#include <vector>

namespace missive::bench {

namespace {

using clock = std::chrono::steady_clock;

// Octets asked of the socket per read: a 1 MiB message comes in a few reads.
constexpr std::size_t buffer_size = 256 * 1024;
// FNV-1a, 64 bits: a cheap hash that tells two copies of a message apart from two messages.
constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;

double ms_since(clock::time_point start) {
  return std::chrono::duration<double, std::milli>(clock::now() - start).count();
}

double s_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

void fnv_add(std::uint64_t& hash, std::string_view bytes) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= fnv_prime;
  }
}

// The client side of one POP3 connection: status lines and multi-line bodies read from a
// large buffer without copying the bodies anywhere.
class pop3_stream {
 public:
  pop3_stream(asio::ip::tcp::socket& socket, const bool& timed_out)
      : socket_(socket), timed_out_(timed_out), buffer_(buffer_size) {}

  // Sends all of `bytes`.
  asio::awaitable<bool> write(const std::string& bytes) {
    std::error_code ec;
    co_await asio::async_write(socket_, asio::buffer(bytes),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fail(ec, "write");
    co_return true;
  }

  // Reads one status line into `line`, without its line end.
  asio::awaitable<bool> read_line(std::string& line) {
    for (;;) {
      const char* start = buffer_.data() + begin_;
      const void* newline = std::memchr(start, '\n', end_ - begin_);
      if (newline != nullptr) {
        const char* end = static_cast<const char*>(newline);
        std::size_t length = static_cast<std::size_t>(end - start);
        begin_ += length + 1;
        if (length > 0 && start[length - 1] == '\r') --length;
        line.assign(start, length);
        co_return true;
      }
      if (begin_ == 0 && end_ == buffer_.size()) {
        error_ = "a status line longer than the buffer";
        co_return false;
      }
      bool more = co_await fill();
      if (!more) co_return false;
    }
  }

  // Reads a multi-line body up to its terminating "." (RFC 1939 3), adding its octets
  // (byte-stuffing removed, line ends as sent) to `octets`, its lines to `lines`, and
  // hashing them into `hash` when given.
  asio::awaitable<bool> read_body(std::uint64_t& octets, std::uint64_t& lines, std::uint64_t* hash) {
    bool line_start = true;
    for (;;) {
      const char* start = buffer_.data() + begin_;
      const void* newline = std::memchr(start, '\n', end_ - begin_);
      if (newline == nullptr) {
        if (begin_ == 0 && end_ == buffer_.size()) {
          // One line fills the buffer: take it as the start of a line (no "\n" in it, so a
          // leading "." is stuffing, not the end).
          std::string_view piece(start, end_);
          if (line_start && piece.front() == '.') piece.remove_prefix(1);
          take(piece, octets, hash);
          line_start = false;
          begin_ = end_ = 0;
        }
        bool more = co_await fill();
        if (!more) co_return false;
        continue;
      }
      const char* end = static_cast<const char*>(newline) + 1;
      std::string_view line(start, static_cast<std::size_t>(end - start));
      begin_ += line.size();
      if (line_start && line.front() == '.') {
        if (line == ".\r\n" || line == ".\n") co_return true;
        line.remove_prefix(1);
      }
      line_start = true;
      ++lines;
      take(line, octets, hash);
    }
  }

  const std::string& error() const { return error_; }

 private:
  static void take(std::string_view bytes, std::uint64_t& octets, std::uint64_t* hash) {
    octets += bytes.size();
    if (hash != nullptr) fnv_add(*hash, bytes);
  }

  // Moves what is left to the front and reads more behind it.
  asio::awaitable<bool> fill() {
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    std::error_code ec;
    std::size_t got = co_await socket_.async_read_some(
        asio::buffer(buffer_.data() + end_, buffer_.size() - end_),
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fail(ec, "read");
    end_ += got;
    co_return true;
  }

  bool fail(const std::error_code& ec, const char* what) {
    if (timed_out_) error_ = "timeout";
    else if (ec == asio::error::eof) error_ = fmt::format("{}: closed by the server", what);
    else error_ = fmt::format("{}: {}", what, ec.message());
    return false;
  }

  asio::ip::tcp::socket& socket_;
  const bool& timed_out_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // unread input is buffer_[begin_, end_)
  std::size_t end_ = 0;
  std::string error_;
};

// Whether a status line is positive.
bool positive(std::string_view line) { return line.starts_with("+OK"); }

// "+OK nn mm" (RFC 1939 5, STAT) into its two numbers.
bool parse_stat(std::string_view line, std::uint64_t& messages, std::uint64_t& octets) {
  if (!line.starts_with("+OK ")) return false;
  const char* p = line.data() + 4;
  const char* end = line.data() + line.size();
  auto first = std::from_chars(p, end, messages);
  if (first.ec != std::errc() || first.ptr == end || *first.ptr != ' ') return false;
  auto second = std::from_chars(first.ptr + 1, end, octets);
  return second.ec == std::errc();
}

// Runs `verb n` for n = 1..count with up to `window` commands in flight; each answer is read
// whole (with `body`, the multi-line message after +OK) before the next is counted.
asio::awaitable<bool> run_commands(pop3_stream& stream, const char* verb, std::uint64_t count,
                                   std::size_t window, bool body, bool digest,
                                   std::uint64_t& answered, std::uint64_t& octets,
                                   std::uint64_t& digest_sum, std::string& error) {
  std::uint64_t sent = 0;
  std::string status;
  std::string batch;
  while (answered < count) {
    batch.clear();
    while (sent < count && sent - answered < window) batch += fmt::format("{} {}\r\n", verb, ++sent);
    if (!batch.empty()) {
      bool written = co_await stream.write(batch);
      if (!written) {
        error = fmt::format("{}: {}", verb, stream.error());
        co_return false;
      }
    }
    bool read = co_await stream.read_line(status);
    if (!read) {
      error = fmt::format("{} {}: {}", verb, answered + 1, stream.error());
      co_return false;
    }
    if (!positive(status)) {
      error = fmt::format("{} {}: {}", verb, answered + 1, status.substr(0, 120));
      co_return false;
    }
    if (body) {
      std::uint64_t hash = fnv_offset, lines = 0;
      bool whole = co_await stream.read_body(octets, lines, digest ? &hash : nullptr);
      if (!whole) {
        error = fmt::format("{} {}: {}", verb, answered + 1, stream.error());
        co_return false;
      }
      if (digest) digest_sum += hash;
    }
    ++answered;
  }
  co_return true;
}

// Sends `line` and reads a positive status line into `status`; records what failed.
asio::awaitable<bool> simple_command(pop3_stream& stream, const std::string& line, const char* what,
                                     std::string& status, std::string& error) {
  bool written = co_await stream.write(line);
  if (!written) {
    error = fmt::format("{}: {}", what, stream.error());
    co_return false;
  }
  bool read = co_await stream.read_line(status);
  if (!read) {
    error = fmt::format("{}: {}", what, stream.error());
    co_return false;
  }
  if (!positive(status)) {
    error = fmt::format("{}: {}", what, status.substr(0, 120));
    co_return false;
  }
  co_return true;
}

}  // namespace

asio::awaitable<void> run_retrieval(const retrieval_options& options, retrieval_report& report) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  bool timed_out = false;
  // The whole session has one deadline: the watchdog closes the socket, and the pending step
  // ends with an error reported as "timeout".
  asio::steady_timer watchdog(executor, options.timeout);
  watchdog.async_wait([&socket, &timed_out](std::error_code ec) {
    if (ec) return;
    timed_out = true;
    std::error_code ignored;
    socket.close(ignored);
  });
  pop3_stream stream(socket, timed_out);
  std::string status;
  const auto session_start = clock::now();

  std::error_code ec;
  co_await socket.async_connect(options.endpoint, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    report.error = timed_out ? "connect: timeout" : "connect: " + ec.message();
    watchdog.cancel();
    co_return;
  }
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  bool greeted = co_await stream.read_line(status);
  report.connect_ms = ms_since(session_start);
  if (!greeted || !positive(status)) {
    report.error = greeted ? "greeting: " + status.substr(0, 120) : "greeting: " + stream.error();
    watchdog.cancel();
    co_return;
  }

  const auto login_start = clock::now();
  // Named, not temporaries: GCC 12 mishandles temporaries bound to references in co_await.
  const std::string user_line = "USER " + options.user + "\r\n";
  const std::string pass_line = "PASS " + options.password + "\r\n";
  const std::string stat_line = "STAT\r\n", uidl_line = "UIDL\r\n", quit_line = "QUIT\r\n";
  bool ok = co_await simple_command(stream, user_line, "USER", status, report.error);
  if (ok) ok = co_await simple_command(stream, pass_line, "PASS", status, report.error);
  report.login_ms = ms_since(login_start);
  if (ok) {
    ok = co_await simple_command(stream, stat_line, "STAT", status, report.error);
    if (ok && !parse_stat(status, report.stat_messages, report.stat_octets)) {
      report.error = "STAT: " + status.substr(0, 120);
      ok = false;
    }
  }
  if (ok) ok = co_await simple_command(stream, uidl_line, "UIDL", status, report.error);
  if (ok) {
    std::uint64_t listing_octets = 0;
    bool listed = co_await stream.read_body(listing_octets, report.uidl_lines, nullptr);
    if (!listed) {
      report.error = "UIDL: " + stream.error();
      ok = false;
    }
  }
  report.login_to_uidl_ms = ms_since(login_start);

  if (ok && options.retrieve) {
    const auto start = clock::now();
    ok = co_await run_commands(stream, "RETR", report.stat_messages, options.window, true,
                               options.digest, report.retrieved, report.retrieved_octets,
                               report.digest, report.error);
    report.retrieve_s = s_since(start);
  }
  if (ok && options.remove) {
    const auto start = clock::now();
    std::uint64_t no_octets = 0, no_digest = 0;
    ok = co_await run_commands(stream, "DELE", report.stat_messages, options.window, false, false,
                               report.deleted, no_octets, no_digest, report.error);
    report.dele_s = s_since(start);
  }
  if (ok) {
    // RFC 1939 6: the UPDATE state; the answer comes once the deletions are done.
    const auto start = clock::now();
    bool written = co_await stream.write(quit_line);
    bool read = false;
    if (written) read = co_await stream.read_line(status);
    report.quit_ms = ms_since(start);
    if (!read) {
      report.error = "QUIT: " + stream.error();
    } else {
      report.quit_ok = positive(status);
      report.quit_text = status.substr(0, 120);
      if (!report.quit_ok) report.error = "QUIT: " + report.quit_text;
    }
  }
  report.session_s = s_since(session_start);
  watchdog.cancel();
  socket.close(ec);
}

}  // namespace missive::bench
