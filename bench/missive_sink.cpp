// missive-sink: an SMTP server that stores nothing and counts what arrives (issue 20, target
// 1): the next hop of `compare.sh relay`. Like Postfix's smtp-sink it answers at once and
// offers PIPELINING; unlike it, it counts messages, recipients and connections, can answer
// 451 to every Nth recipient, and tells its counts over SMTP itself:
//
//   XRESET   zeroes the counts; times are then measured from this moment
//   XSTATS   "250 messages=M recipients=R deferred=D connections=C first=S last=S"
//            (first, last: seconds from the XRESET to the end of the first and the last
//            message's data)
//
//   missive-sink --port 0                    # prints "listening on 127.0.0.1:PORT"
//   missive-sink --port 0 --defer-every 10   # 451 4.7.1 to every tenth RCPT
//
// One thread of Asio coroutines. Replies are written once per read, after every complete
// command of that read is answered, so a pipelining client gets one write per group.
#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace {

using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

// What arrived since the last XRESET.
struct counts {
  std::uint64_t messages = 0;
  std::uint64_t recipients = 0;  // answered 250
  std::uint64_t deferred = 0;    // answered 451
  std::uint64_t connections = 0;
  clock_type::time_point origin = clock_type::now();
  std::optional<clock_type::time_point> first;
  std::optional<clock_type::time_point> last;
};

counts totals;
std::uint64_t defer_every = 0;   // 0: never
std::uint64_t rcpt_serial = 0;   // every RCPT seen, for --defer-every

double seconds_since_origin(const std::optional<clock_type::time_point>& t) {
  if (!t) return -1;
  return std::chrono::duration<double>(*t - totals.origin).count();
}

bool starts_with_verb(std::string_view line, std::string_view verb) {
  if (line.size() < verb.size()) return false;
  for (std::size_t i = 0; i < verb.size(); ++i) {
    char c = line[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != verb[i]) return false;
  }
  return true;
}

// One client: commands answered in order; message data skipped up to its final ".".
asio::awaitable<void> session(tcp::socket socket) {
  ++totals.connections;
  std::string in;
  std::string out = "220 missive-sink ESMTP\r\n";
  bool in_data = false;
  std::uint64_t accepted = 0;     // recipients of this transaction
  bool quit = false;
  char buffer[65536];
  std::error_code ec;
  while (!quit) {
    if (!out.empty()) {
      co_await asio::async_write(socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      out.clear();
    }
    std::size_t n = co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    in.append(buffer, n);
    std::size_t pos = 0;
    while (!quit) {
      if (in_data) {
        // The end of data is CRLF "." CRLF, where the first CRLF may be the DATA line's own
        // (an empty message): the search starts there, and keeps the last 4 octets read.
        std::size_t end = in.find("\r\n.\r\n", pos);
        if (end == std::string::npos) {
          pos = std::max(pos, in.size() >= 4 ? in.size() - 4 : 0);
          break;
        }
        pos = end + 5;
        in_data = false;
        auto now = clock_type::now();
        ++totals.messages;
        if (!totals.first) totals.first = now;
        totals.last = now;
        accepted = 0;
        out += "250 2.0.0 Ok: queued\r\n";
        continue;
      }
      std::size_t eol = in.find("\r\n", pos);
      if (eol == std::string::npos) break;
      std::string_view line(in.data() + pos, eol - pos);
      pos = eol + 2;
      if (starts_with_verb(line, "EHLO")) {
        out += "250-missive-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 0\r\n250 ENHANCEDSTATUSCODES\r\n";
      } else if (starts_with_verb(line, "HELO")) {
        out += "250 missive-sink\r\n";
      } else if (starts_with_verb(line, "MAIL")) {
        accepted = 0;
        out += "250 2.1.0 Ok\r\n";
      } else if (starts_with_verb(line, "RCPT")) {
        ++rcpt_serial;
        if (defer_every != 0 && rcpt_serial % defer_every == 0) {
          ++totals.deferred;
          out += "451 4.7.1 Try again later\r\n";
        } else {
          ++totals.recipients;
          ++accepted;
          out += "250 2.1.5 Ok\r\n";
        }
      } else if (starts_with_verb(line, "DATA")) {
        if (accepted == 0) {
          out += "554 5.5.1 No valid recipients\r\n";
        } else {
          in_data = true;
          pos -= 2;  // back to the DATA line's CRLF (see above)
          out += "354 End data with <CR><LF>.<CR><LF>\r\n";
        }
      } else if (starts_with_verb(line, "RSET")) {
        accepted = 0;
        out += "250 2.0.0 Ok\r\n";
      } else if (starts_with_verb(line, "NOOP")) {
        out += "250 2.0.0 Ok\r\n";
      } else if (starts_with_verb(line, "QUIT")) {
        out += "221 2.0.0 Bye\r\n";
        quit = true;
      } else if (starts_with_verb(line, "XRESET")) {
        totals = counts{};
        totals.connections = 1;  // this one
        out += "250 2.0.0 reset\r\n";
      } else if (starts_with_verb(line, "XSTATS")) {
        out += fmt::format("250 messages={} recipients={} deferred={} connections={} first={:.6f} last={:.6f}\r\n",
                           totals.messages, totals.recipients, totals.deferred, totals.connections,
                           seconds_since_origin(totals.first), seconds_since_origin(totals.last));
      } else {
        out += "502 5.5.2 Command not recognized\r\n";
      }
    }
    in.erase(0, pos);
    // A line longer than any command (RFC 5321 4.5.3.1.4), outside data: a broken client.
    if (!in_data && in.size() > 4096) co_return;
  }
  if (!out.empty()) co_await asio::async_write(socket, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
  for (;;) {
    std::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"missive-sink: an SMTP sink that counts what arrives"};
  std::string host = "127.0.0.1";
  unsigned port = 0;
  app.add_option("--host", host, "address to listen on (default 127.0.0.1)");
  app.add_option("--port", port, "port (default 0: one the kernel picks)");
  app.add_option("--defer-every", defer_every, "answer 451 to every Nth RCPT (default 0: never)");
  CLI11_PARSE(app, argc, argv);

  asio::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(port)));
  acceptor.listen(1024);
  std::cout << "listening on " << host << ":" << acceptor.local_endpoint().port() << std::endl;
  asio::co_spawn(io, listen(acceptor), asio::detached);
  io.run();
}
