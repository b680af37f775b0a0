// An outbound SMTP client session (RFC 5321) over Asio coroutines: used by the relay to
// deliver to the next hop and by `missive send` to submit. Every read and write has a
// deadline; replies are read with limits (smtp_reply_parser). STARTTLS (RFC 3207) when
// offered, or required, as configured.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "smtp_reply.hpp"
#include "tls.hpp"

namespace missive {

// The connection failed, timed out, or the server sent something unreadable: every
// recipient not yet answered is "try again later".
class smtp_client_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// TLS could not be had as configured: STARTTLS is required but not offered or refused, or
// the handshake failed (certificate not trusted, wrong host name, no common protocol).
// Retrying the same server will not help until its configuration or ours changes, except
// when the server refused STARTTLS with 4xx (RFC 3207 4: 454 "TLS not available due to
// temporary reason"): then temporary() is true.
class smtp_tls_error : public smtp_client_error {
 public:
  explicit smtp_tls_error(const std::string& what, bool temporary = false)
      : smtp_client_error(what), temporary_(temporary) {}
  // Whether the server said to try again later (4xx to STARTTLS).
  bool temporary() const { return temporary_; }

 private:
  bool temporary_;
};

// How the client behaves.
struct smtp_client_options {
  std::string helo_name = "localhost";                 // our name in EHLO/HELO
  std::chrono::seconds connect_timeout{30};
  // RFC 5321 4.5.3.2: client timeouts per command; one value for simplicity, plus DATA's.
  std::chrono::seconds command_timeout{300};
  std::chrono::seconds data_timeout{600};              // 4.5.3.2.6: the final "." reply
  std::size_t max_reply_lines = 100;
  // When hello() upgrades the connection with STARTTLS (RFC 3207).
  enum class tls_mode {
    none,           // never, even when offered
    // When offered (RFC 7435); a refused STARTTLS leaves the session in plaintext, and so
    // does a failed handshake when verify is none (on a fresh connection, without STARTTLS).
    opportunistic,
    required,       // when offered, else smtp_tls_error: nothing is sent in plaintext
  };
  tls_mode starttls = tls_mode::opportunistic;
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

// What the server offered in its EHLO reply (RFC 5321 4.1.1.1).
struct smtp_extensions {
  bool esmtp = false;   // EHLO was accepted (else HELO was used)
  bool pipelining = false;
  bool eight_bit_mime = false;
  bool smtputf8 = false;
  bool starttls = false;
  bool enhanced_status_codes = false;
  bool dsn = false;        // RFC 3461
  bool chunking = false;   // RFC 3030: BDAT
  std::optional<std::uint64_t> size;   // SIZE n; 0 means no fixed limit
  std::vector<std::string> auth;       // AUTH mechanisms, uppercased
};

// One message to send: envelope and content (CRLF line endings, not dot-stuffed).
struct smtp_envelope {
  std::string sender;                  // "" for the null reverse-path <>
  std::vector<std::string> recipients;
  bool eight_bit = false;              // send BODY=8BITMIME when offered
  bool smtputf8 = false;               // send SMTPUTF8 when offered (needed for UTF-8 addresses)
  // All or nothing: the content goes only to a server that accepted every RCPT; when one is
  // refused the transaction is dropped with RSET and nobody gets the message. A user's
  // client wants this (a retry after a partial send duplicates the message); a relay, which
  // tracks each recipient apart, does not.
  bool all_recipients = false;
  // DSN (RFC 3461), sent only to a server that offers it: the MAIL parameters, e.g.
  // " RET=HDRS ENVID=abc" (each with its leading space, values xtext-encoded), and the
  // RCPT parameters of each recipient in the same way (empty, or one per recipient).
  std::string mail_dsn_parameters;
  std::vector<std::string> rcpt_dsn_parameters;
};

// What the server answered for one message.
struct smtp_transaction_result {
  // Reply to MAIL FROM; when it is not 2xx it applies to every recipient. A message larger
  // than the server's SIZE limit is not sent at all: this is then 552 5.3.4 (RFC 1870 6).
  smtp_reply mail;
  // Reply to each RCPT TO, in order; empty when MAIL was refused.
  std::vector<smtp_reply> recipients;
  // Reply to the final "." (only when DATA got 354), or to BDAT LAST; empty when the data
  // was not sent
  // because MAIL or every RCPT failed (with all_recipients, any RCPT: DATA is then not
  // sent at all), or DATA was refused (then `data_command` tells).
  std::optional<smtp_reply> data_command;
  std::optional<smtp_reply> data_end;
};

// A client session with one server. Move-only; the connection closes when destroyed.
class smtp_client {
 public:
  smtp_client(asio::any_io_executor executor, smtp_client_options options);
  smtp_client(smtp_client&&) noexcept;
  smtp_client& operator=(smtp_client&&) noexcept;
  ~smtp_client();

  // Connects to host:port (a name or literal; all resolved addresses are tried in order) and
  // reads the greeting, which is returned. Throws smtp_client_error when no connection.
  asio::awaitable<smtp_reply> connect(const std::string& host, std::uint16_t port);
  // Sends EHLO, or HELO if EHLO is refused with 5xx (RFC 5321 3.2); returns the final reply.
  // Then, as options.starttls asks and the server offers: STARTTLS, the TLS handshake, and
  // EHLO again over TLS (RFC 3207 4.2: what was learned before is forgotten), whose reply
  // is returned. Throws smtp_tls_error when TLS is required and cannot be had, or the
  // handshake fails; smtp_client_error on a broken connection or timeout.
  asio::awaitable<smtp_reply> hello();
  // Whether the session runs over TLS (after hello() upgraded it), for logs.
  bool encrypted() const;
  // The extensions the server offered (valid after hello()).
  const smtp_extensions& extensions() const;
  // Sends one message: MAIL, each RCPT, DATA, the dot-stuffed content, "." — pipelined
  // (RFC 2920) when offered, with SIZE= when offered. When the server offers CHUNKING
  // (RFC 3030) the content goes as one "BDAT n LAST", as it is (no dot-stuffing). Throws smtp_client_error on a broken
  // connection or timeout.
  asio::awaitable<smtp_transaction_result> send(const smtp_envelope& envelope,
                                                const std::string& content);
  // Sends RSET (between messages on one connection).
  asio::awaitable<smtp_reply> reset();
  // Sends QUIT and closes; never throws.
  asio::awaitable<void> quit();
  // The address actually connected to, "host[addr]:port", for logs.
  const std::string& peer() const;
  // Authenticates (RFC 4954) after hello(): AUTH PLAIN (RFC 4616) with an initial response
  // when offered, else AUTH LOGIN; returns the final reply (235 on success). Throws
  // smtp_client_error on a broken connection or when neither mechanism is offered.
  asio::awaitable<smtp_reply> authenticate(const std::string& user, const std::string& password);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace missive
