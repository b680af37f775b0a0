// Unit tests for the client transport: lines up to the limit, the end of the stream, a read
// deadline, a refused connection. A transport needs a peer: these use a listener on
// 127.0.0.1 port 0 inside the test process, the only sockets in this tier.
#include <doctest/doctest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "client_transport.hpp"
#include "run_sync.hpp"

using missive::client_transport;
using missive::read_deadline;
using missive::transport_status;
using namespace std::chrono_literals;

namespace {

const char* name(transport_status status) {
  switch (status) {
    case transport_status::ok: return "ok";
    case transport_status::timeout: return "timeout";
    case transport_status::closed: return "closed";
    case transport_status::reset: return "reset";
    case transport_status::not_connected: return "not_connected";
    case transport_status::too_long: return "too_long";
    case transport_status::tls_name: return "tls_name";
    case transport_status::failed: return "failed";
  }
  return "?";
}

// A listener on 127.0.0.1, on a port of the system's choosing.
struct loopback {
  asio::io_context context;
  asio::ip::tcp::acceptor acceptor{context, {asio::ip::make_address("127.0.0.1"), 0}};
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
};

// Accepts one connection and sends `bytes`; then closes it, or with `hold` waits until the
// client does.
asio::awaitable<void> serve(asio::ip::tcp::acceptor& acceptor, std::string bytes, bool hold) {
  std::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  auto socket = co_await acceptor.async_accept(token);
  if (ec) co_return;
  co_await asio::async_write(socket, asio::buffer(bytes), token);
  char byte = 0;
  while (hold && !ec) co_await socket.async_read_some(asio::buffer(&byte, 1), token);
}

// Connects to 127.0.0.1:port and reads lines of at most `max_length` octets, each within
// `within`, until a read fails; returns the lines and, last, how the reading ended.
asio::awaitable<std::vector<std::string>> read_lines(std::uint16_t port, std::size_t max_length,
                                                     std::chrono::milliseconds within) {
  client_transport transport(co_await asio::this_coro::executor, 8);
  const std::string host = "127.0.0.1";
  auto connected = co_await transport.connect(host, port, 5s);
  std::vector<std::string> out;
  if (!connected) out.emplace_back(connected.reason);
  while (connected) {
    const auto deadline = read_deadline::at(read_deadline::clock::now() + within);
    auto got = co_await transport.read_line(max_length, deadline);
    out.emplace_back(got ? std::string(got.line) : name(got.status));
    if (!got) break;
  }
  transport.close();
  co_return out;
}

}  // namespace

TEST_CASE("client transport: lines with their line ends, up to the limit with them") {
  loopback net;
  // 14 octets and CRLF fit a limit of 16; 15 and CRLF do not (read 8 octets at a time).
  const std::string wire =
      "250 one\r\n250-two\n" + std::string(14, 'x') + "\r\n" + std::string(15, 'y') + "\r\n";
  asio::co_spawn(net.context, serve(net.acceptor, wire, true), asio::detached);
  auto lines = missive::run_sync(net.context, read_lines(net.port(), 16, 5s));
  CHECK(lines ==
        std::vector<std::string>{"250 one\r\n", "250-two\n", std::string(14, 'x') + "\r\n",
                                 "too_long"});
}

TEST_CASE("client transport: the end of the stream ends a partial line") {
  loopback net;
  const std::string wire = "+OK last\r\npartial";
  asio::co_spawn(net.context, serve(net.acceptor, wire, false), asio::detached);
  auto lines = missive::run_sync(net.context, read_lines(net.port(), 64, 5s));
  CHECK(lines == std::vector<std::string>{"+OK last\r\n", "closed"});
}

TEST_CASE("client transport: a read deadline that passes") {
  loopback net;
  const std::string wire = "220 hello\r\n";
  asio::co_spawn(net.context, serve(net.acceptor, wire, true), asio::detached);
  auto lines = missive::run_sync(net.context, read_lines(net.port(), 64, 50ms));
  CHECK(lines == std::vector<std::string>{"220 hello\r\n", "timeout"});
}

TEST_CASE("client transport: a refused connection, and reads without one") {
  loopback net;
  const std::uint16_t port = net.port();
  net.acceptor.close();
  auto lines = missive::run_sync(net.context, read_lines(port, 64, 5s));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "connection refused by 127.0.0.1[127.0.0.1]:" + std::to_string(port));

  asio::io_context context;
  client_transport transport(context.get_executor(), 8);
  const auto deadline = read_deadline::at(read_deadline::clock::now() + 1s);
  auto got = missive::run_sync(context, transport.read_line(64, deadline));
  CHECK(got.status == transport_status::not_connected);
}
