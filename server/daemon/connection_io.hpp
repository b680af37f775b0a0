// A connection's byte stream for a line-based protocol session: an input buffer from which
// lines and message data are read, an output buffer that is flushed when the session is
// ready to wait for the client (so pipelined replies go out together, RFC 2920), and one
// deadline that a timer enforces on every read and write.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "input_buffer.hpp"

namespace missive {

class data_reader;

// A peer's address in the 16-byte IPv4-mapped form.
std::array<std::uint8_t, 16> mapped_bytes(const asio::ip::address& address);

// Buffered reading and writing on one TCP connection, plain or TLS, with a deadline.
class connection_io {
 public:
  // A connection that may switch to TLS with `tls` (a server context) later.
  // `peer` is the client's endpoint as accept() reported it.
  connection_io(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& peer,
                asio::ssl::context& tls);

  // Performs the server side of a TLS handshake within `timeout`; false if it failed. Any
  // input buffered before it is discarded: commands pipelined in plaintext behind STARTTLS
  // or STLS must not be executed inside the encrypted session (CVE-2011-0411).
  asio::awaitable<bool> start_tls(const std::chrono::seconds& timeout);
  // Whether the connection is encrypted.
  bool encrypted() const { return encrypted_; }

  // What a line read produced.
  enum class read_status {
    line,      // a line, without its line ending
    too_long,  // the line exceeded the limit; it was read to its end and dropped
    closed,    // the peer closed, the connection failed, or the deadline passed
  };

  // Reads one line ending in LF (a CR before it is removed). `max_octets` counts the CRLF.
  asio::awaitable<read_status> read_line(std::string& line, std::size_t max_octets);
  // Feeds input to `reader` until it is done, allowing `per_read` for each read from the
  // socket; false if the connection ended first.
  asio::awaitable<bool> read_data(data_reader& reader, const std::chrono::seconds& per_read);
  // Reads exactly `count` octets (a BDAT chunk, RFC 3030), appending them to `into` when
  // `keep`, else dropping them, allowing `per_read` for each read from the socket; false if
  // the connection ended first.
  asio::awaitable<bool> read_octets(std::uint64_t count, std::string& into, bool keep,
                                    const std::chrono::seconds& per_read);
  // Whether a whole line is already buffered (the client pipelined commands).
  bool line_buffered() const;
  // Whether the client has sent anything not yet read (buffered or waiting in the socket).
  bool input_pending();
  // Drops everything buffered but not yet read.
  void discard_input();

  // Queues bytes to send at the next flush.
  void write(std::string_view bytes) { output_.append(bytes); }
  // Queues bytes to send, taking over their storage when they are large and nothing else is
  // queued (a whole message is then not copied once more).
  void write_moved(std::string&& bytes) {
    if (output_.empty() && bytes.size() >= 64 * 1024) output_.swap(bytes);
    else output_.append(bytes);
  }
  // Octets queued and not yet sent.
  std::size_t queued() const { return output_.size(); }
  // Sends everything queued; false if the connection failed or the deadline passed.
  asio::awaitable<bool> flush();
  // Sends what is queued without waiting (a last reply before closing); never blocks.
  void flush_now();

  // Sets the time by which the current read or write must finish. A timer enforces it: when
  // it passes, the pending operation is cancelled and every later one fails at once.
  void set_timeout(std::chrono::steady_clock::duration timeout);
  // Whether the deadline passed.
  bool timed_out() const { return timed_out_; }

  // Closes the connection (idempotent).
  void close();
  // The peer's address as text, and in the 16-byte IPv4-mapped form.
  const std::string& peer() const { return peer_; }
  const std::array<std::uint8_t, 16>& peer_bytes() const { return peer_bytes_; }
  // Whether the peer is on a loopback address.
  bool peer_is_loopback() const { return loopback_; }

 private:
  // Reads up to `chunk` more bytes into the input buffer (last_read_ says how many);
  // false when the connection ended.
  asio::awaitable<bool> fill(std::size_t chunk);
  // (Re)starts the timer for deadline_.
  void arm_watchdog();
  std::string_view buffered() const { return input_.data(); }
  void consume(std::size_t count);

  asio::ip::tcp::socket socket_;
  asio::ssl::context& tls_context_;
  // Made only when the session turns to TLS: an ssl::stream costs an SSL object and two
  // record buffers of 17 KiB, zero-filled, which a plaintext session never needs.
  std::optional<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  bool encrypted_ = false;
  input_buffer input_;
  std::size_t last_read_ = 0;
  std::string output_;
  std::chrono::steady_clock::time_point deadline_;
  // A plain callback timer, not a coroutine raced with `||`: Asio 1.22's parallel_group
  // calls a freed cancellation handler when many sessions end at once (UBSan, under EMFILE).
  asio::steady_timer watchdog_timer_;
  // Expires with this object. A timer that already fired has its handler queued with
  // success, and destroying the timer no longer cancels it: the handler checks this first.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool timed_out_ = false;
  std::string peer_;
  std::array<std::uint8_t, 16> peer_bytes_{};
  bool loopback_ = false;
};

}  // namespace missive
