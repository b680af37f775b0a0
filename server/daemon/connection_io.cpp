// Buffered line I/O with a deadline: see connection_io.hpp.
#include "connection_io.hpp"

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <asio/ssl.hpp>

#include <algorithm>
#include <cstring>

#include "data_reader.hpp"

namespace missive {

namespace {

// Bytes asked of the socket per read: small for command lines, so an idle connection holds
// little memory; large for message data, so a 25 MiB message is few reads.
constexpr std::size_t command_read_chunk = 4 * 1024;
constexpr std::size_t data_read_chunk = 64 * 1024;

}  // namespace

std::array<std::uint8_t, 16> mapped_bytes(const asio::ip::address& address) {
  std::array<std::uint8_t, 16> bytes{};
  if (address.is_v4()) {
    auto v4 = address.to_v4().to_bytes();
    bytes[10] = bytes[11] = 0xff;
    std::memcpy(bytes.data() + 12, v4.data(), 4);
  } else {
    auto v6 = address.to_v6().to_bytes();
    std::memcpy(bytes.data(), v6.data(), 16);
  }
  return bytes;
}

connection_io::connection_io(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& peer,
                             asio::ssl::context& tls)
    : socket_(std::move(socket)),
      tls_context_(tls),
      watchdog_timer_(socket_.get_executor()) {
  auto address = peer.address();
  peer_bytes_ = mapped_bytes(address);
  peer_ = address.to_string();
  loopback_ = address.is_loopback();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    loopback_ = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
  }
  set_timeout(std::chrono::minutes(5));
}

void connection_io::set_timeout(std::chrono::steady_clock::duration timeout) {
  deadline_ = std::chrono::steady_clock::now() + timeout;
  // A later deadline is noticed when the timer fires; an earlier one re-arms it now.
  if (watchdog_timer_.expiry() > deadline_ ||
      watchdog_timer_.expiry() == asio::steady_timer::time_point()) {
    arm_watchdog();
  }
}

void connection_io::arm_watchdog() {
  watchdog_timer_.expires_at(deadline_);  // cancels a wait already pending
  watchdog_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](std::error_code ec) {
    // Cancelled (re-armed), or the connection is gone with `this`: touch nothing.
    if (ec || alive.expired()) return;
    if (std::chrono::steady_clock::now() < deadline_) {
      arm_watchdog();
      return;
    }
    timed_out_ = true;
    std::error_code ignored;
    socket_.cancel(ignored);  // the pending read or write ends with operation_aborted
  });
}

void connection_io::consume(std::size_t count) {
  // Drained, a buffer that grew past one data read (a large message arriving faster than
  // it was decoded) is given back, so idle sessions stay small.
  input_.consume(count, data_read_chunk + command_read_chunk);
}

asio::awaitable<bool> connection_io::fill(std::size_t chunk) {
  if (timed_out_) co_return false;
  std::error_code ec;
  auto buffer = asio::buffer(input_.prepare(chunk), chunk);
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  std::size_t n = 0;
  if (encrypted_) n = co_await tls_->async_read_some(buffer, token);
  else n = co_await socket_.async_read_some(buffer, token);
  input_.commit(n);
  last_read_ = n;
  co_return !ec && n > 0;
}

asio::awaitable<connection_io::read_status> connection_io::read_line(std::string& line,
                                                                     std::size_t max_octets) {
  bool overflow = false;
  for (;;) {
    std::string_view data = buffered();
    auto newline = data.find('\n');
    if (newline != std::string_view::npos) {
      if (overflow || newline + 1 > max_octets) {
        consume(newline + 1);
        co_return read_status::too_long;
      }
      std::string_view text = data.substr(0, newline);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      line.assign(text);
      consume(newline + 1);
      co_return read_status::line;
    }
    if (data.size() >= max_octets) {
      // Too long already: drop what we have and keep reading to the line's end, so that
      // the next command is read in step (RFC 5321 4.5.3.1.4).
      overflow = true;
      consume(data.size());
    }
    bool more = co_await fill(command_read_chunk);
    if (!more) co_return read_status::closed;
  }
}

asio::awaitable<bool> connection_io::read_data(data_reader& reader,
                                              const std::chrono::seconds& per_read) {
  // Small reads first, into the buffer the commands used: most messages are a few KiB and
  // need no larger one. A read that fills all it asked for means more is streaming in.
  std::size_t chunk = command_read_chunk;
  for (;;) {
    consume(reader.feed(buffered()));
    if (reader.done()) co_return true;
    set_timeout(per_read);
    bool more = co_await fill(chunk);
    if (!more) co_return false;
    if (last_read_ == chunk) chunk = data_read_chunk;
  }
}

asio::awaitable<bool> connection_io::read_octets(std::uint64_t count, std::string& into,
                                                 bool keep, const std::chrono::seconds& per_read) {
  std::size_t chunk = command_read_chunk;
  for (;;) {
    std::string_view data = buffered();
    auto take = static_cast<std::size_t>(std::min<std::uint64_t>(count, data.size()));
    if (keep) into.append(data.substr(0, take));
    consume(take);
    count -= take;
    if (count == 0) co_return true;
    set_timeout(per_read);
    bool more = co_await fill(chunk);
    if (!more) co_return false;
    if (last_read_ == chunk) chunk = data_read_chunk;
  }
}

bool connection_io::line_buffered() const { return buffered().find('\n') != std::string_view::npos; }

bool connection_io::input_pending() {
  std::error_code ec;
  return !buffered().empty() || socket_.available(ec) > 0;
}

void connection_io::discard_input() { consume(buffered().size()); }

asio::awaitable<bool> connection_io::flush() {
  if (timed_out_) co_return false;
  if (output_.empty()) co_return true;
  std::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  if (encrypted_) co_await asio::async_write(*tls_, asio::buffer(output_), token);
  else co_await asio::async_write(socket_, asio::buffer(output_), token);
  output_.clear();
  co_return !ec;
}

void connection_io::flush_now() {
  if (output_.empty() || !socket_.is_open()) return;
  std::error_code ec;
  socket_.non_blocking(true, ec);
  // Best effort: one attempt that never blocks; inside TLS the record may not fit at once.
  if (encrypted_) tls_->write_some(asio::buffer(output_), ec);
  else socket_.write_some(asio::buffer(output_), ec);
  output_.clear();
}

asio::awaitable<bool> connection_io::start_tls(const std::chrono::seconds& timeout) {
  discard_input();
  set_timeout(timeout);
  std::error_code ec;
  if (tls_) co_return false;  // one handshake per connection
  tls_.emplace(socket_, tls_context_);
  co_await tls_->async_handshake(asio::ssl::stream_base::server,
                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return false;
  encrypted_ = true;
  co_return true;
}

void connection_io::close() {
  // close() sends the FIN itself; a shutdown() before it cost a system call per
  // connection and changed nothing.
  std::error_code ec;
  socket_.close(ec);
}

}  // namespace missive
