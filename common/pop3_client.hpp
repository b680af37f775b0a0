// The POP3 client side (RFC 1939, 2449 CAPA, 5034 SASL): a sans-IO response parser, and a
// session over Asio coroutines for `missive fetch`. Every read and write has a deadline;
// every line and every message has a limit. STLS (RFC 2595 4) when offered, or required, as
// configured.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tls.hpp"

namespace missive {

// Limits of the response parser.
struct pop3_parser_limits {
  // RFC 1939 3: a status line is at most 512 octets with its CRLF; a little slack for servers
  // that say more.
  std::size_t status_line = 1024;
  // RFC 5322 2.1.1 allows 998 + CRLF per message line; real mail breaks that, so the limit
  // is generous but finite.
  std::size_t data_line = 64 * 1024;
  // The whole multi-line body (a message): larger ones are refused, not buffered.
  std::size_t body = 64 * 1024 * 1024;
};

// What a response parser stopped on.
enum class pop3_parse_error { none, line_too_long, body_too_large, malformed };

// One server response.
struct pop3_response {
  enum class status { ok, err, continuation } kind = status::ok;
  std::string text;  // the status line after "+OK ", "-ERR " or "+ "
  // For a multi-line +OK response: the lines after the status line, dot-unstuffed, each
  // ending in CRLF, without the terminating ".".
  std::string body;

  bool ok() const { return kind == status::ok; }
};

// Parses one POP3 response at a time from bytes fed in any pieces (RFC 1939 3).
class pop3_response_parser {
 public:
  explicit pop3_response_parser(pop3_parser_limits limits = {});

  // Prepares for the next response; `multiline` when its +OK is followed by lines and ".".
  void expect(bool multiline);
  // Takes bytes; returns how many were consumed (it stops at the end of the response).
  std::size_t feed(std::string_view bytes);
  // Whether the response is complete.
  bool done() const { return state_ == state::done; }
  // Why parsing stopped; once set, the connection is out of step and must be closed.
  pop3_parse_error error() const { return error_; }
  // The response (valid when done()).
  const pop3_response& response() const { return response_; }
  // Moves the response out (valid when done()).
  pop3_response take() { return std::move(response_); }

 private:
  enum class state { status, body, done };
  // Takes one complete line (without CRLF).
  void take_line(std::string_view line);

  pop3_parser_limits limits_;
  state state_ = state::status;
  bool multiline_ = false;
  bool dropping_ = false;      // a too-long line is being skipped
  std::string line_;           // the partial line so far
  pop3_response response_;
  pop3_parse_error error_ = pop3_parse_error::none;
};

// The connection failed, timed out, or the server broke the protocol: try again later.
class pop3_client_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// TLS could not be had as configured: STLS is required but not offered or refused, or the
// handshake failed (certificate not trusted, wrong host name, no common protocol).
class pop3_tls_error : public pop3_client_error {
 public:
  using pop3_client_error::pop3_client_error;
};

// The server refused the login; `temporary` when it said so ([IN-USE], [SYS/TEMP],
// RFC 2449 8), else the credentials were wrong.
class pop3_login_error : public std::runtime_error {
 public:
  pop3_login_error(const std::string& what, bool temporary)
      : std::runtime_error(what), temporary_(temporary) {}
  bool temporary() const { return temporary_; }

 private:
  bool temporary_;
};

// How the client behaves.
struct pop3_client_options {
  std::chrono::seconds connect_timeout{30};
  // RFC 1939 3 gives servers a 10-minute idle timer; the client waits less for a reply.
  std::chrono::seconds command_timeout{120};
  pop3_parser_limits limits;
  // When capabilities() upgrades the connection with STLS (RFC 2595 4).
  enum class tls_mode {
    none,           // never, even when offered
    opportunistic,  // when offered; a refused STLS leaves the session in plaintext
    required,       // when offered, else pop3_tls_error: no password is sent in plaintext
  };
  tls_mode stls = tls_mode::opportunistic;
  // How the server's certificate is checked; with `peer`, against ca_file (PEM) when set,
  // else the system's CA store, and the name it must carry: tls_server_name, else the host
  // given to connect().
  tls_verify verify = tls_verify::none;
  std::filesystem::path ca_file;
  // The name (or address) the certificate must carry and, when it is a name, the SNI name
  // (RFC 6066 3); empty: the host given to connect(). For a server reached by its address
  // whose certificate names it by name.
  std::string tls_server_name;
};

// One message in the maildrop: its number in this session and its unique id (UIDL).
struct pop3_listing_entry {
  std::uint32_t number = 0;
  std::string uid;
};

// A client session with one POP3 server. Move-only; the connection closes when destroyed.
class pop3_client {
 public:
  pop3_client(asio::any_io_executor executor, pop3_client_options options);
  pop3_client(pop3_client&&) noexcept;
  pop3_client& operator=(pop3_client&&) noexcept;
  ~pop3_client();

  // Connects (every resolved address in turn) and reads the greeting. Throws
  // pop3_client_error when no connection, or the greeting is not +OK.
  asio::awaitable<void> connect(const std::string& host, std::uint16_t port);
  // CAPA (RFC 2449): the capability lines; empty if the server does not know CAPA. Then, as
  // options.stls asks and CAPA lists STLS: STLS, the TLS handshake, and CAPA again over TLS
  // (RFC 2595 4: what was learned before is forgotten), whose lines are returned. Throws
  // pop3_tls_error when TLS is required and cannot be had, or the handshake fails.
  asio::awaitable<std::vector<std::string>> capabilities();
  // Whether the session runs over TLS (after capabilities() upgraded it), for logs.
  bool encrypted() const;
  // Logs in: AUTH PLAIN (RFC 5034) when `capabilities` list "SASL ... PLAIN", else USER and
  // PASS. Throws pop3_login_error when refused.
  asio::awaitable<void> login(const std::string& user, const std::string& password,
                              const std::vector<std::string>& capabilities);
  // UIDL: every message's number and unique id.
  asio::awaitable<std::vector<pop3_listing_entry>> unique_ids();
  // RETR n: the message, dot-unstuffed, CRLF line endings.
  asio::awaitable<std::string> retrieve(const std::uint32_t& number);
  // DELE n: marks it deleted (removed at QUIT); false when the server refused.
  asio::awaitable<bool> remove(const std::uint32_t& number);
  // QUIT: the server commits deletions (RFC 1939 6); true when it answered +OK.
  asio::awaitable<bool> quit();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace missive
