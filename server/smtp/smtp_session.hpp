// smtp/: the SMTP server side. A session parses commands (common/ has the codecs), applies
// policy (who may relay, who may send as whom), and hands accepted messages to the store.
//
// One inbound SMTP session (RFC 5321): reads commands, answers each through one handler per
// verb, and stores accepted messages before it says 250 (the durability rule, DESIGN.md).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "authentication_results.hpp"
#include "connection_io.hpp"
#include "mail_address.hpp"
#include "queue_types.hpp"
#include "smtp_command.hpp"
#include "smtp_reply.hpp"
#include "server_context.hpp"

namespace missive {

struct header_summary;

struct server_context;

// Serves one SMTP connection from greeting to close.
class smtp_session {
 public:
  smtp_session(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& peer,
               server_context& context, listener_role role, std::string id);

  // Runs the session to its end; never throws.
  asio::awaitable<void> run();
  // Ends the session at shutdown: a message being committed still gets its reply, then
  // the client is told 421 4.3.2 and the connection closes (RFC 5321 3.8).
  void stop();
  // The client's address, as the abuse guard counts it.
  const client_address& peer_bytes() const { return io_.peer_bytes(); }

 private:
  // Where the session stands in the command sequence (RFC 5321 4.1.4).
  enum class state { connected, greeted, mail, rcpt, closing };

  // The mail transaction: what MAIL and RCPT collected, cleared by RSET, HELO/EHLO and DATA.
  struct transaction {
    mail_address sender;
    bool smtputf8 = false;
    bool eight_bit = false;
    std::uint64_t declared_size = 0;  // MAIL SIZE= (RFC 1870), 0 if none
    std::chrono::steady_clock::time_point mail_at;  // when MAIL was accepted (for metrics)
    // One per mailbox (mailbox set, or the address itself), and one per outside address (a
    // forwarded one has its SRS sender).
    std::vector<incoming_recipient> local_recipients;
    std::vector<incoming_recipient> remote_recipients;
    // DSN (RFC 3461): MAIL RET= and ENVID= (each recipient's NOTIFY= and ORCPT= are on it).
    dsn_return ret = dsn_return::unspecified;
    std::string envid;
    // CHUNKING (RFC 3030): the chunks so far, whether BDAT began the data (DATA may not
    // follow), and whether they grew past the size limit (the rest is read and dropped).
    std::string chunks;
    bool bdat = false;
    bool bdat_too_big = false;
    std::size_t bdat_chunks = 0;
    authentication_findings findings;  // SPF at MAIL; DKIM and DMARC after the data
    std::size_t recipient_count() const {
      return local_recipients.size() + remote_recipients.size();
    }
  };

  // What the log line of a refused command names besides the reply.
  struct refusal_subject {
    std::string_view stage = "COMMAND";  // the verb, or END-OF-MESSAGE after the data
    std::optional<std::string> from;     // the envelope sender, once MAIL named one
    std::optional<std::string> to;       // the recipient RCPT named
    std::optional<std::string> user;     // the user an AUTH tried
  };

  // Not a reply: the connection ended while a command was being served.
  static inline const smtp_reply connection_lost{0, "", ""};

  asio::awaitable<void> serve();
  // Waits greeting_delay; false if the client talked meanwhile (pregreet).
  asio::awaitable<bool> client_waited_for_greeting();
  asio::awaitable<smtp_reply> dispatch(const smtp_command& command);
  smtp_reply on_helo(const smtp_command& command, bool extended);
  smtp_reply on_mail(const smtp_command& command);
  asio::awaitable<smtp_reply> on_rcpt(const smtp_command& command);
  // RCPT for an address of a local domain: adds what it leads to (users, aliases,
  // subaddresses, catch-alls, SRS reversal; smtp_session_recipients.cpp), or says why not.
  asio::awaitable<std::optional<smtp_reply>> add_local_recipient(std::string address,
                                                                 std::string local_part,
                                                                 std::string domain);
  // Adds one recipient to the transaction, once.
  void add_local(incoming_recipient recipient);
  void add_remote(incoming_recipient recipient);
  // The envelope sender for mail forwarded to an outside address: the SRS address of the
  // transaction's sender, or "" to keep it (null sender, no SRS key).
  std::string forwarding_sender() const;
  asio::awaitable<smtp_reply> on_data(const smtp_command& command);
  // BDAT (RFC 3030): smtp_session_bdat.cpp.
  asio::awaitable<smtp_reply> on_bdat(const smtp_command& command);
  // Why BDAT is refused in the session's state; nullopt when its chunk is welcome.
  std::optional<smtp_reply> bdat_refusal() const;
  // Records the DSN parameters of the recipient RCPT just added (if it added one).
  void note_recipient_dsn(const rcpt_to_arguments& args, std::size_t local_before,
                          std::size_t remote_before);
  smtp_reply on_rset(const smtp_command& command);
  // Stores the message, taking the bytes out of `data`.
  asio::awaitable<smtp_reply> store(std::string& data);
  // STARTTLS (RFC 3207) and AUTH (RFC 4954): smtp_session_auth.cpp.
  smtp_reply on_starttls(const smtp_command& command);
  asio::awaitable<smtp_reply> on_auth(const smtp_command& command);
  asio::awaitable<std::optional<std::string>> read_auth_response(const std::string& challenge);
  asio::awaitable<smtp_reply> check_credentials(const std::string& user, const std::string& password);
  asio::awaitable<bool> switch_to_tls();
  // Whether AUTH may be used on this connection now (TLS, or plaintext allowed by policy).
  bool auth_allowed() const;
  // The protocol name in the Received: header (RFC 3848, RFC 6531).
  std::string_view received_protocol() const;
  std::string trace_headers(const std::string& queue_id, const header_summary& summary) const;
  bool client_may_relay() const;
  bool client_is_trusted() const;
  // Whether mail from this client is checked ([checks]): clients neither trusted nor
  // authenticated.
  bool client_is_checked() const;
  // SPF of the HELO and MAIL FROM identities, after MAIL was `accepted`: the reply to give
  // (a refusal only with [checks] spf = "enforce").
  asio::awaitable<smtp_reply> check_sender(smtp_reply accepted);
  // DKIM and DMARC of a message from outside, as [checks] asks: removes from `data` any
  // Authentication-Results that claims to be ours, and puts in `added` the fields to prepend
  // (ours, and the quarantine mark); a refusal only where DMARC is enforced.
  asio::awaitable<std::optional<smtp_reply>> check_authentication(std::string& data,
                                                                  const header_summary& summary,
                                                                  std::string& added);
  // The DKIM-Signature for a message of our own users (authenticated, or from a trusted
  // network) whose From: domain has a [[dkim]] key; empty for any other.
  // Signed on the message_work pool.
  asio::awaitable<std::string> dkim_signature(const std::string& trace_headers, std::string_view data,
                                              const header_summary& summary);
  // Whether the data directory has room for a message of `declared_size` octets and the
  // reserve ([smtp] min_free_space) besides.
  bool room_for(std::uint64_t declared_size) const;
  // Logs a 4xx or 5xx reply, one line per refusal, Postfix style, for operators and fail2ban.
  void log_refusal(const smtp_reply& answer) const;
  // A state's name, for the log.
  static std::string_view state_name(state s);
  // Moves to `next`, logging the change by name (at debug level).
  void enter_state(state next);
  void reply(const smtp_reply& r);

  connection_io io_;
  server_context& context_;
  listener_role role_;
  std::string id_;
  std::string authenticated_user_;  // empty until AUTH succeeds
  bool tls_requested_ = false;      // STARTTLS answered 220: handshake after the reply
  bool storing_ = false;            // waiting for the commit of a message
  bool stopping_ = false;           // the relay is shutting down
  state state_ = state::connected;
  // Why the session ended, for its disconnect line; "lost" until known (a reset, a failed
  // write).
  std::string_view end_reason_ = "lost";
  std::string helo_name_;
  bool extended_ = false;  // EHLO rather than HELO
  transaction transaction_;
  refusal_subject refusal_;  // about the command being served
};

}  // namespace missive
