// The connection under the SMTP and POP3 clients: see client_transport.hpp.
//
// The TCP socket is a member from first to last; TLS is an asio::ssl::stream over a
// reference to it, made by start_tls() and dropped with the connection, so the upgrade
// happens in place and a plaintext session never pays for an SSL object.
//
// Input is kept in one buffer from which lines are taken; a line is refused as soon as it is
// known to be too long, without waiting for its end, so an endless line costs no more than
// one line's buffer.
#include "client_transport.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>

#include "io_deadline.hpp"
#include "tls.hpp"

namespace missive {

namespace {

using tcp = asio::ip::tcp;

// "host[addr]:port", as logs show a peer.
std::string format_peer(const std::string& host, const tcp::endpoint& endpoint) {
  return fmt::format("{}[{}]:{}", host, endpoint.address().to_string(), endpoint.port());
}

// An operation's outcome other than ok.
transport_result failure(transport_status status, std::string reason) {
  return transport_result{status, std::move(reason), {}};
}

}  // namespace

struct client_transport::impl {
  impl(const asio::any_io_executor& executor_, std::size_t read_chunk_)
      : executor(executor_), socket(executor_), deadline(executor_), read_chunk(read_chunk_) {}

  // What the deadline does when it passes: cancels the operation pending on the socket,
  // directly or under the TLS layer.
  std::function<void()> cancel_io() {
    return [this] {
      std::error_code ignored;
      socket.cancel(ignored);
    };
  }

  // Closes the connection and forgets everything that belonged to it.
  void close() {
    std::error_code ignored;
    // No TLS close_notify: the session is over either way.
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    tls.reset();
    encrypted = false;
    discard_input();
  }

  // Drops what was read but not taken.
  void discard_input() {
    input.clear();
    input_start = 0;
  }

  // Tries one address within `timeout`; returns why it failed, or "" when connected.
  asio::awaitable<std::string> connect_to(const tcp::endpoint& to, duration timeout) {
    std::error_code ec;
    deadline.arm(timeout, cancel_io());
    co_await socket.async_connect(to, asio::redirect_error(asio::use_awaitable, ec));
    if (deadline.disarm()) {
      close();
      co_return fmt::format("timeout connecting to {}", peer);
    }
    if (ec) {
      close();
      if (ec == asio::error::connection_refused) co_return "connection refused by " + peer;
      co_return fmt::format("cannot connect to {}: {}", peer, ec.message());
    }
    endpoint = to;
    co_return std::string();
  }

  // Reads what the socket has, up to read_chunk octets, into the input buffer.
  asio::awaitable<transport_result> fill(const read_deadline& until) {
    if (!socket.is_open()) co_return failure(transport_status::not_connected, "not connected");
    if (input_start > 0) {
      input.erase(0, input_start);
      input_start = 0;
    }
    const std::size_t old_size = input.size();
    input.resize(old_size + read_chunk);
    auto buffer = asio::buffer(input.data() + old_size, read_chunk);
    std::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    if (until.idle != duration::zero()) deadline.arm(until.idle, cancel_io());
    else deadline.arm_at(until.until, cancel_io());
    std::size_t got = 0;
    if (encrypted) got = co_await tls->async_read_some(buffer, token);
    else got = co_await socket.async_read_some(buffer, token);
    const bool expired = deadline.disarm();
    input.resize(old_size + got);
    if (expired) {
      discard_input();
      co_return failure(transport_status::timeout, "timeout");
    }
    // Over TLS a close without close_notify is "stream truncated": closed all the same.
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      co_return failure(transport_status::closed, ec.message());
    }
    if (ec == asio::error::connection_reset) {
      co_return failure(transport_status::reset, ec.message());
    }
    if (ec) co_return failure(transport_status::failed, ec.message());
    co_return transport_result{};
  }

  asio::any_io_executor executor;
  tcp::socket socket;
  // Made by start_tls(); over a reference to `socket`, so it must be destroyed first.
  std::optional<asio::ssl::stream<tcp::socket&>> tls;
  bool encrypted = false;     // whether reads and writes go through `tls`
  io_deadline deadline;       // of the current connect, handshake, read or write
  std::size_t read_chunk;
  std::string input;          // read from the socket and not yet taken
  std::size_t input_start = 0;
  std::string peer;
  tcp::endpoint endpoint;     // the address connected to
};

client_transport::client_transport(const asio::any_io_executor& executor, std::size_t read_chunk)
    : impl_(std::make_unique<impl>(executor, read_chunk)) {}
client_transport::client_transport(client_transport&&) noexcept = default;
client_transport& client_transport::operator=(client_transport&&) noexcept = default;
client_transport::~client_transport() = default;

asio::awaitable<transport_result> client_transport::connect(std::string host, std::uint16_t port,
                                                            duration timeout) {
  auto& s = *impl_;
  s.close();
  s.peer = fmt::format("{}:{}", host, port);
  tcp::resolver resolver(s.executor);
  std::error_code ec;
  const std::string service = std::to_string(port);
  auto endpoints = co_await resolver.async_resolve(host, service,
                                                   asio::ip::resolver_base::numeric_service,
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return failure(transport_status::failed,
                      fmt::format("cannot resolve {}: {}", host, ec.message()));
  }
  std::string failures;
  for (const auto& entry : endpoints) {
    const tcp::endpoint endpoint = entry.endpoint();
    s.peer = format_peer(host, endpoint);
    auto failed = co_await s.connect_to(endpoint, timeout);
    if (failed.empty()) co_return transport_result{};
    failures += failures.empty() ? failed : "; " + failed;
  }
  if (failures.empty()) failures = fmt::format("no address found for {}", host);
  co_return failure(transport_status::failed, failures);
}

asio::awaitable<transport_result> client_transport::reconnect(duration timeout) {
  auto& s = *impl_;
  s.close();
  const tcp::endpoint endpoint = s.endpoint;
  auto failed = co_await s.connect_to(endpoint, timeout);
  if (!failed.empty()) co_return failure(transport_status::failed, failed);
  co_return transport_result{};
}

asio::awaitable<transport_result> client_transport::start_tls(asio::ssl::context& context,
                                                              std::string server_name,
                                                              tls_verify verify,
                                                              duration timeout) {
  auto& s = *impl_;
  s.discard_input();
  s.tls.emplace(s.socket, context);
  if (!prepare_client_tls(s.tls->native_handle(), server_name, verify)) {
    co_return failure(transport_status::tls_name,
                      fmt::format("cannot check a certificate for {}", server_name));
  }
  std::error_code ec;
  s.deadline.arm(timeout, s.cancel_io());
  co_await s.tls->async_handshake(asio::ssl::stream_base::client,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (s.deadline.disarm()) {
    co_return failure(transport_status::timeout,
                      fmt::format("timeout in the TLS handshake with {}", s.peer));
  }
  if (ec) {
    co_return failure(transport_status::failed,
                      fmt::format("TLS handshake with {} failed: {}", s.peer,
                                  handshake_failure(s.tls->native_handle(), ec)));
  }
  s.encrypted = true;
  co_return transport_result{};
}

asio::awaitable<transport_result> client_transport::read_line(std::size_t max_length,
                                                              read_deadline deadline) {
  auto& s = *impl_;
  std::size_t searched = 0;  // octets of the partial line already known to hold no LF
  for (;;) {
    const char* start = s.input.data() + s.input_start;
    const std::size_t buffered = s.input.size() - s.input_start;
    const std::size_t search = std::min(buffered, max_length);
    const void* lf = searched < search
                         ? std::memchr(start + searched, '\n', search - searched)
                         : nullptr;
    if (lf != nullptr) {
      const std::size_t length = static_cast<const char*>(lf) - start + 1;
      transport_result result;
      result.line = std::string_view(start, length);
      s.input_start += length;
      co_return result;
    }
    // `max_length` octets without an LF: with it the line is over the limit.
    if (search == max_length) co_return failure(transport_status::too_long, "line too long");
    searched = search;
    auto filled = co_await s.fill(deadline);
    if (!filled) co_return filled;
  }
}

asio::awaitable<transport_result> client_transport::write(std::string_view bytes,
                                                          duration timeout) {
  auto& s = *impl_;
  if (!s.socket.is_open()) co_return failure(transport_status::not_connected, "not connected");
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    std::error_code ec;
    auto buffer = asio::buffer(bytes.data() + sent, bytes.size() - sent);
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    s.deadline.arm(timeout, s.cancel_io());
    std::size_t written = 0;
    if (s.encrypted) written = co_await s.tls->async_write_some(buffer, token);
    else written = co_await s.socket.async_write_some(buffer, token);
    if (s.deadline.disarm()) co_return failure(transport_status::timeout, "timeout");
    if (ec) co_return failure(transport_status::failed, ec.message());
    sent += written;
  }
  co_return transport_result{};
}

void client_transport::close() { impl_->close(); }

bool client_transport::is_open() const { return impl_->socket.is_open(); }

bool client_transport::encrypted() const { return impl_->encrypted; }

const std::string& client_transport::peer() const { return impl_->peer; }

}  // namespace missive
