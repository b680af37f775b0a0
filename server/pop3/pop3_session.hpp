// pop3/: the POP3 server side, reading maildrops through the store.
//
// One POP3 session (RFC 1939, CAPA from RFC 2449, AUTH PLAIN from RFC 5034): authorization,
// then transaction on a snapshot of the maildrop, then update at QUIT in one transaction.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "connection_io.hpp"
#include "mail_store.hpp"
#include "pop3_command.hpp"
#include "server_context.hpp"

namespace missive {

struct server_context;

// Serves one POP3 connection from greeting to close.
class pop3_session {
 public:
  pop3_session(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& peer,
               server_context& context, listener_role role, std::string id);
  ~pop3_session();

  // Runs the session to its end; never throws.
  asio::awaitable<void> run();
  // Ends the session from outside (shutdown). Nothing is deleted: there was no QUIT.
  void stop() { io_.close(); }
  // The client's address, as the abuse guard counts it.
  const client_address& peer_bytes() const { return io_.peer_bytes(); }

 private:
  // RFC 1939 3: the session's states.
  enum class state { authorization, transaction, closing };

  // A message of the maildrop as the session sees it.
  struct message {
    maildrop_entry entry;
    bool deleted = false;
  };

  asio::awaitable<void> serve();
  asio::awaitable<void> dispatch(const pop3_command& command);
  asio::awaitable<void> on_pass(const pop3_command& command);
  asio::awaitable<void> on_auth(const pop3_command& command);
  asio::awaitable<void> log_in(const std::string& address, const std::string& password);
  asio::awaitable<void> on_retr(const pop3_command& command, bool top);
  asio::awaitable<void> on_quit();
  void on_capa();
  asio::awaitable<void> on_stls();
  // Whether USER/PASS and AUTH may be used now: over TLS, from loopback, or without [tls].
  bool plaintext_login_allowed() const;
  void on_stat();
  void on_list_or_uidl(const pop3_command& command, bool uidl);
  void on_dele(const pop3_command& command);
  void on_rset();
  // The message a message-number argument names, or nullptr after replying -ERR.
  message* find_message(std::string_view number);
  // The content of messages_[index], from what was read ahead or from the store, reading
  // ahead the messages after it (limits::pop3_read_ahead_*). Throws what the store throws.
  asio::awaitable<std::string> content_of(std::size_t index);
  void ok(std::string_view text);
  void err(std::string_view text);

  connection_io io_;
  server_context& context_;
  listener_role role_;
  std::string id_;
  state state_ = state::authorization;
  // Why the session ended, for its disconnect line; "lost" until known.
  std::string_view end_reason_ = "lost";
  std::string user_name_;  // from USER, until PASS
  std::optional<user_identity> user_;
  bool locked_ = false;
  std::vector<message> messages_;
  // Contents read ahead: read_ahead_[k] is messages_[read_ahead_first_ + k]. A client that
  // downloads its maildrop asks for one message after the other; one trip to a reader
  // thread for several of them costs what one trip for each did.
  std::deque<std::string> read_ahead_;
  std::size_t read_ahead_first_ = 0;
};

}  // namespace missive
