// One POP3 session: see pop3_session.hpp.
#include "pop3_session.hpp"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/format.h>

#include "dot_stuffing.hpp"
#include "limits.hpp"
#include "log.hpp"
#include "mail_address.hpp"
#include "message_headers.hpp"
#include "metrics.hpp"
#include "sasl_plain.hpp"
#include "server_config.hpp"
#include "server_context.hpp"
#include "user_directory.hpp"

namespace missive {

namespace {

// A failed login is answered only after this pause, to slow down password guessing.
constexpr auto failed_login_delay = std::chrono::seconds(1);
// How long a TLS handshake may take.
constexpr std::chrono::seconds tls_handshake_timeout{30};

}  // namespace

pop3_session::pop3_session(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& peer,
                           server_context& context, listener_role role, std::string id)
    : io_(std::move(socket), peer, context.tls), context_(context), role_(role), id_(std::move(id)) {}

pop3_session::~pop3_session() {
  if (locked_) context_.store.unlock_maildrop(user_->id);
}

void pop3_session::ok(std::string_view text) {
  io_.write(fmt::format("+OK {}\r\n", text));
}

void pop3_session::err(std::string_view text) {
  io_.write(fmt::format("-ERR {}\r\n", text));
}

asio::awaitable<void> pop3_session::run() {
  log::info(id_, "event=connect client=[{}] service={}", io_.peer(), role_.name());
  try {
    bool ready = true;
    if (role_.implicit_tls) {
      ready = co_await io_.start_tls(tls_handshake_timeout);  // RFC 8314
      metrics::relay().tls_handshake(service_of(role_), ready);
    }
    if (!ready) end_reason_ = "tls_handshake_failed";
    if (ready) co_await serve();
    if (io_.timed_out()) {
      end_reason_ = "timeout";
      err("Autologout: idle for too long");
      io_.flush_now();
    }
  } catch (const std::exception& e) {
    log::error(id_, "event=session_failed reason=\"{}\"", e.what());
    end_reason_ = "error";
  }
  io_.close();
  // Every connect has its disconnect, however the session ended.
  log::info(id_, "event=disconnect reason={}", end_reason_);
}

asio::awaitable<void> pop3_session::serve() {
  ok("Missive POP3 server ready");
  std::string line;
  while (state_ != state::closing) {
    // Replies to pipelined commands go out together, but never more than a batch of them.
    bool send_now = !io_.line_buffered() || io_.queued() >= limits::pop3_reply_batch;
    if (send_now) {
      bool sent = co_await io_.flush();
      if (!sent) co_return;
    }
    io_.set_timeout(context_.config.pop3.idle_timeout);
    auto status = co_await io_.read_line(line, limits::pop3_command_line);
    if (status == connection_io::read_status::closed) {
      // RFC 1939 6: without QUIT there is no UPDATE state; nothing is deleted.
      end_reason_ = "closed";
      co_return;
    }
    if (status == connection_io::read_status::too_long) {
      err("Line too long");
      continue;
    }
    auto command = parse_pop3_command(line);
    if (command.malformed) {
      err("Malformed command");
      continue;
    }
    co_await dispatch(command);
  }
  co_await io_.flush();
  if (end_reason_ == "lost") end_reason_ = "quit";
}

asio::awaitable<void> pop3_session::dispatch(const pop3_command& command) {
  const auto& args = command.arguments;
  switch (command.verb) {
    case pop3_verb::capa: on_capa(); co_return;
    case pop3_verb::quit: co_await on_quit(); co_return;
    case pop3_verb::noop:
      if (state_ == state::transaction) ok("");
      else err("Not logged in");
      co_return;
    default: break;
  }
  if (state_ == state::authorization) {
    bool login_verb = command.verb == pop3_verb::user || command.verb == pop3_verb::pass ||
                      command.verb == pop3_verb::auth;
    if (login_verb && !plaintext_login_allowed()) {
      // RFC 2595 4: no password crosses the network in the clear unless plaintext_auth says so.
      co_return err(context_.tls_enabled
                        ? "[AUTH] Plaintext authentication is disabled here: use STLS first"
                        : "[AUTH] Plaintext authentication is disabled here");
    }
    switch (command.verb) {
      case pop3_verb::stls: co_return co_await on_stls();
      case pop3_verb::user:
        if (args.size() != 1) co_return err("Syntax: USER name");
        // Nothing is said about whether the user exists (RFC 1939 13).
        user_name_ = std::string(args[0]);
        co_return ok("Send PASS");
      case pop3_verb::pass: co_return co_await on_pass(command);
      case pop3_verb::auth: co_return co_await on_auth(command);
      default: co_return err("Not logged in");
    }
  }
  switch (command.verb) {
    case pop3_verb::stat: on_stat(); break;
    case pop3_verb::list: on_list_or_uidl(command, false); break;
    case pop3_verb::uidl: on_list_or_uidl(command, true); break;
    case pop3_verb::retr: co_await on_retr(command, false); break;
    case pop3_verb::top: co_await on_retr(command, true); break;
    case pop3_verb::dele: on_dele(command); break;
    case pop3_verb::rset: on_rset(); break;
    case pop3_verb::unknown: err("Unknown command"); break;
    default: err("Command not valid in this state"); break;
  }
}

bool pop3_session::plaintext_login_allowed() const {
  // The same rule as SMTP AUTH: one setting says where passwords may go in the clear.
  return password_may_cross(context_.config.smtp.plaintext_auth, io_.encrypted(),
                            io_.peer_is_loopback());
}

void pop3_session::on_capa() {
  // RFC 2449 5: the capabilities, one per line, those of the AUTHORIZATION state in both
  // states; login methods only where they may be used.
  std::string out = "+OK Capability list follows\r\n";
  if (context_.tls_enabled && !io_.encrypted() && state_ == state::authorization) {
    out += "STLS\r\n";
  }
  if (plaintext_login_allowed()) out += "USER\r\nSASL PLAIN\r\n";
  out +=
      "TOP\r\n"
      "UIDL\r\n"
      "RESP-CODES\r\n"
      "AUTH-RESP-CODE\r\n"
      "PIPELINING\r\n"
      "IMPLEMENTATION Missive\r\n"
      ".\r\n";
  io_.write(out);
}

asio::awaitable<void> pop3_session::on_stls() {
  if (!context_.tls_enabled) co_return err("STLS is not available");
  if (io_.encrypted()) co_return err("TLS is already active");
  // RFC 2595 4: +OK, then the handshake; what the client sent before it is discarded.
  ok("Begin TLS negotiation");
  bool sent = co_await io_.flush();
  if (!sent) co_return;
  bool secured = co_await io_.start_tls(tls_handshake_timeout);
  metrics::relay().tls_handshake(service_of(role_), secured);
  if (!secured) {
    end_reason_ = "tls_handshake_failed";
    state_ = state::closing;
    co_return;
  }
  user_name_.clear();
  log::info(id_, "event=tls");
}

asio::awaitable<void> pop3_session::on_pass(const pop3_command& command) {
  if (user_name_.empty()) co_return err("Send USER first");
  if (command.arguments.size() != 1) co_return err("Syntax: PASS password");
  std::string name = std::exchange(user_name_, {});
  // Named, not a temporary: GCC 12 mishandles temporaries bound to references in co_await.
  std::string password(command.arguments[0]);
  co_await log_in(name, password);
}

asio::awaitable<void> pop3_session::on_auth(const pop3_command& command) {
  const auto& args = command.arguments;
  if (args.empty()) {
    io_.write("+OK Mechanisms follow\r\nPLAIN\r\n.\r\n");
    co_return;
  }
  if (args.size() > 2 || lowercase_ascii(args[0]) != "plain") {
    co_return err("Unsupported authentication mechanism");
  }
  std::string response;
  if (args.size() == 2) {
    response = std::string(args[1]);
  } else {
    // RFC 5034 4: an empty challenge, then the client's response on a line of its own.
    io_.write("+ \r\n");
    if (!co_await io_.flush()) co_return;
    auto status = co_await io_.read_line(response, limits::pop3_auth_line);
    if (status == connection_io::read_status::closed) co_return;
    if (status == connection_io::read_status::too_long) co_return err("Line too long");
    if (response == "*") co_return err("Authentication cancelled");
  }
  auto credentials = decode_sasl_plain(response);
  if (!credentials || (!credentials->authzid.empty() && credentials->authzid != credentials->authcid)) {
    co_return err("[AUTH] Invalid authentication data");
  }
  co_await log_in(credentials->authcid, credentials->password);
}

asio::awaitable<void> pop3_session::log_in(const std::string& address, const std::string& password) {
  std::optional<user_identity> user;
  try {
    user = co_await context_.users.authenticate(address, password);
  } catch (const std::exception& e) {
    log::error(id_, "event=auth_lookup_failed reason=\"{}\"", e.what());
    co_return err("[SYS/TEMP] Temporary failure, try again later");
  }
  metrics::relay().login(true, user.has_value());
  if (!user) {
    bool banned = context_.guard.login_failed(io_.peer_bytes());
    std::string_view refusal = banned ? "[SYS/TEMP] Too many failed logins, try later"
                                      : "[AUTH] Invalid username or password";
    // One line per refusal, naming the user tried (never the password), for fail2ban.
    log::info(id_, "reject: LOGIN from unknown[{}]: -ERR {}; user=<{}>", io_.peer(), refusal,
              address);
    asio::steady_timer pause(co_await asio::this_coro::executor, failed_login_delay);
    std::error_code ec;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (banned) {
      state_ = state::closing;
      end_reason_ = "too_many_failed_logins";
    }
    co_return err(refusal);
  }
  // RFC 2449 8.1.2: IN-USE when another session (on any relay of this store) holds it.
  bool locked = false;
  try {
    locked = co_await context_.store.lock_maildrop(user->id);
  } catch (const std::exception& e) {
    log::error(id_, "event=maildrop_lock_failed reason=\"{}\"", e.what());
    co_return err("[SYS/TEMP] Temporary failure, try again later");
  }
  if (!locked) co_return err("[IN-USE] Mailbox is locked by another session");
  user_ = std::move(user);
  locked_ = true;
  try {
    auto entries = co_await context_.store.maildrop(user_->id);
    messages_.clear();
    for (auto& entry : entries) messages_.push_back({std::move(entry), false});
  } catch (const std::exception& e) {
    log::error(id_, "event=maildrop_failed reason=\"{}\"", e.what());
    context_.store.unlock_maildrop(user_->id);
    locked_ = false;
    user_.reset();
    co_return err("[SYS/TEMP] Temporary failure, try again later");
  }
  state_ = state::transaction;
  log::info(id_, "event=login user={} messages={}", user_->address, messages_.size());
  ok(fmt::format("Logged in, {} messages", messages_.size()));
}

void pop3_session::on_stat() {
  std::size_t count = 0;
  std::uint64_t octets = 0;
  for (const auto& m : messages_) {
    if (m.deleted) continue;
    ++count;
    octets += m.entry.size;
  }
  ok(fmt::format("{} {}", count, octets));
}

pop3_session::message* pop3_session::find_message(std::string_view number) {
  auto n = parse_message_number(number);
  if (!n || *n > messages_.size()) {
    err("No such message");
    return nullptr;
  }
  message& m = messages_[*n - 1];
  if (m.deleted) {
    err(fmt::format("Message {} already deleted", *n));
    return nullptr;
  }
  return &m;
}

void pop3_session::on_list_or_uidl(const pop3_command& command, bool uidl) {
  auto describe = [&](std::size_t number, const message& m) {
    return uidl ? fmt::format("{} {}", number, m.entry.uid) : fmt::format("{} {}", number, m.entry.size);
  };
  if (command.arguments.size() > 1) return err(uidl ? "Syntax: UIDL [msg]" : "Syntax: LIST [msg]");
  if (command.arguments.size() == 1) {
    if (message* m = find_message(command.arguments[0])) {
      ok(describe(static_cast<std::size_t>(m - messages_.data()) + 1, *m));
    }
    return;
  }
  std::string out = uidl ? "+OK Unique-ID listing follows\r\n" : "+OK Scan listing follows\r\n";
  for (std::size_t i = 0; i < messages_.size(); ++i) {
    if (messages_[i].deleted) continue;
    out += describe(i + 1, messages_[i]);
    out += "\r\n";
  }
  out += ".\r\n";
  io_.write(out);
}

asio::awaitable<void> pop3_session::on_retr(const pop3_command& command, bool top) {
  const auto& args = command.arguments;
  if (args.size() != (top ? 2u : 1u)) co_return err(top ? "Syntax: TOP msg lines" : "Syntax: RETR msg");
  std::optional<std::uint32_t> lines;
  if (top && !(lines = parse_line_count(args[1]))) co_return err("Syntax: TOP msg lines");
  message* m = find_message(args[0]);
  if (!m) co_return;
  const std::size_t index = static_cast<std::size_t>(m - messages_.data());
  std::string content;
  try {
    content = co_await content_of(index);
  } catch (const std::exception& e) {
    log::error(id_, "event=retrieve_failed reason=\"{}\"", e.what());
    co_return err("[SYS/TEMP] Could not read the message");
  }
  std::string out = fmt::format("+OK {} octets\r\n", content.size());
  if (top) {
    // RFC 1939 7: the header, the blank line, then at most `lines` lines of the body.
    std::string head(header_section(content));
    head += first_body_lines(content, *lines);
    append_dot_stuffed(out, head);
  } else {
    out.reserve(out.size() + content.size() + content.size() / 64 + 3);
    append_dot_stuffed(out, content);
  }
  io_.write_moved(std::move(out));
}

asio::awaitable<std::string> pop3_session::content_of(std::size_t index) {
  if (index >= read_ahead_first_ && index - read_ahead_first_ < read_ahead_.size()) {
    // Read ahead: what lies before it was skipped by the client and is dropped.
    read_ahead_.erase(read_ahead_.begin(),
                      read_ahead_.begin() + static_cast<std::ptrdiff_t>(index - read_ahead_first_));
    std::string content = std::move(read_ahead_.front());
    read_ahead_.pop_front();
    read_ahead_first_ = index + 1;
    co_return content;
  }
  read_ahead_.clear();
  // The message asked for, then those after it while they fit the read-ahead bounds (sizes
  // from the listing loaded at login; messages marked deleted are skipped by RETR, and
  // cost little here).
  std::vector<std::int64_t> ids{messages_[index].entry.id};
  std::uint64_t ahead_octets = 0;
  for (std::size_t next = index + 1;
       next < messages_.size() && ids.size() <= limits::pop3_read_ahead_messages; ++next) {
    ahead_octets += messages_[next].entry.size;
    if (ahead_octets > limits::pop3_read_ahead_octets) break;
    ids.push_back(messages_[next].entry.id);
  }
  auto contents = co_await context_.store.message_contents(std::move(ids));
  std::string content = std::move(contents.front());
  read_ahead_first_ = index + 1;
  for (std::size_t k = 1; k < contents.size(); ++k) read_ahead_.push_back(std::move(contents[k]));
  co_return content;
}

void pop3_session::on_dele(const pop3_command& command) {
  if (command.arguments.size() != 1) return err("Syntax: DELE msg");
  if (message* m = find_message(command.arguments[0])) {
    m->deleted = true;
    ok(fmt::format("Message {} deleted", m - messages_.data() + 1));
  }
}

void pop3_session::on_rset() {
  for (auto& m : messages_) m.deleted = false;
  ok(fmt::format("Maildrop has {} messages", messages_.size()));
}

asio::awaitable<void> pop3_session::on_quit() {
  state previous = state_;
  state_ = state::closing;
  if (previous != state::transaction) co_return ok("Bye");
  // RFC 1939 6: the UPDATE state removes the deleted messages, all or none.
  std::vector<std::int64_t> doomed;
  for (const auto& m : messages_) {
    if (m.deleted) doomed.push_back(m.entry.id);
  }
  if (!doomed.empty()) {
    try {
      co_await context_.store.remove_entries(doomed);
    } catch (const std::exception& e) {
      log::error(id_, "event=update_failed reason=\"{}\"", e.what());
      co_return err("[SYS/TEMP] Some deleted messages not removed");
    }
  }
  log::info(id_, "event=logout user={} deleted={}", user_->address, doomed.size());
  ok(fmt::format("Bye, {} messages deleted", doomed.size()));
}

}  // namespace missive
