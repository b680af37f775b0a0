// The connection under the SMTP and POP3 clients: TCP to the server (every resolved address
// tried in turn, each within a connect timeout), upgraded in place to TLS when the protocol
// says so (STARTTLS, STLS), and lines read and bytes written under deadlines.
//
// Every deadline is a watchdog (io_deadline) that cancels the socket's pending operation when
// it passes, not the awaitable `||` racing a timer: Asio 1.22's parallel_group calls a freed
// cancellation handler when many operations end at once (see io_deadline.hpp).
//
// What a network can be expected to do (time out, close, reset, refuse, send a line over the
// limit) comes back as a value; each client words it in its own errors. The header names
// neither OpenSSL nor asio::ssl: the TLS layer lives in the implementation.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace asio::ssl {
class context;
}

namespace missive {

enum class tls_verify;  // tls.hpp

// How an operation of a client_transport ended.
enum class transport_status {
  ok,
  timeout,        // its deadline passed
  closed,         // the server closed the connection (over TLS, with or without close_notify)
  reset,          // the server reset the connection
  not_connected,  // no connection: never made, or closed after an earlier failure
  too_long,       // a line longer than the limit: the stream is out of step
  tls_name,       // the name cannot be set up for the certificate check (start_tls)
  failed,         // anything else: a refused or failed connect, a failed handshake, an I/O error
};

// The outcome of an operation of a client_transport.
struct transport_result {
  transport_status status = transport_status::ok;
  // Unless ok, why, in words: for connect() and start_tls() a sentence naming the server,
  // for read_line() and write() the system's words (the caller says what it awaited).
  std::string reason;
  // read_line(): the line with its LF; valid until the next call on the transport.
  std::string_view line;

  explicit operator bool() const { return status == transport_status::ok; }
};

// When a read gives up.
struct read_deadline {
  using clock = std::chrono::steady_clock;

  // At `until`, whatever has arrived by then: a whole reply within its timeout.
  static read_deadline at(clock::time_point until) { return {until, clock::duration::zero()}; }
  // When one read of the socket brings nothing for `idle`: a long body on a slow link that
  // keeps moving is not cut off.
  static read_deadline idle_for(clock::duration idle) { return {clock::time_point(), idle}; }

  clock::time_point until;
  clock::duration idle;  // nonzero: each read of the socket gets this long instead
};

// One client connection, plain or TLS. Move-only; the connection closes when destroyed.
class client_transport {
 public:
  using duration = std::chrono::steady_clock::duration;

  // A transport that asks the socket for up to `read_chunk` octets at a time.
  client_transport(const asio::any_io_executor& executor, std::size_t read_chunk);
  client_transport(client_transport&&) noexcept;
  client_transport& operator=(client_transport&&) noexcept;
  ~client_transport();

  // Connects to host:port (a name or a literal; every resolved address in turn, each within
  // `timeout`), after closing any earlier connection. Name resolution is bounded by the
  // system resolver's own timeouts: it cannot be cancelled.
  asio::awaitable<transport_result> connect(std::string host, std::uint16_t port,
                                            duration timeout);
  // Connects again, in plaintext, to the address the last connect() reached.
  asio::awaitable<transport_result> reconnect(duration timeout);
  // Upgrades the connection to TLS in place: drops whatever was read but not taken (it came
  // in plaintext and may be an attacker's, CVE-2011-0411), prepares the session for
  // `server_name` (prepare_client_tls: SNI, and with tls_verify::peer the name the
  // certificate must carry), and handshakes within `timeout`. `context` must outlive the
  // connection.
  asio::awaitable<transport_result> start_tls(asio::ssl::context& context,
                                              std::string server_name, tls_verify verify,
                                              duration timeout);
  // Reads one line, up to and including its LF, of at most `max_length` octets with it.
  asio::awaitable<transport_result> read_line(std::size_t max_length, read_deadline deadline);
  // Writes `bytes` (which must stay alive until it returns), each write of the socket
  // making progress within `timeout`.
  asio::awaitable<transport_result> write(std::string_view bytes, duration timeout);
  // Closes the connection (idempotent); the TLS layer and unread input go with it.
  void close();

  // Whether a connection is open.
  bool is_open() const;
  // Whether it runs over TLS (after start_tls()).
  bool encrypted() const;
  // The server as logs and errors show it: "host[addr]:port" once an address was tried,
  // "host:port" before.
  const std::string& peer() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace missive
