// STARTTLS (RFC 3207) and AUTH PLAIN/LOGIN (RFC 4954, RFC 4616) for the SMTP session.
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/format.h>

#include "ascii.hpp"
#include "base64.hpp"
#include "log.hpp"
#include "mail_store.hpp"
#include "metrics.hpp"
#include "sasl_plain.hpp"
#include "server_config.hpp"
#include "smtp_replies.hpp"
#include "smtp_session.hpp"
#include "user_directory.hpp"

namespace missive {

namespace {

// A failed AUTH is answered only after this pause, to slow down password guessing.
constexpr auto failed_auth_delay = std::chrono::seconds(1);
// RFC 4954 4: a SASL response line may be longer than a command line.
constexpr std::size_t auth_line_limit = 12288;
// How long a TLS handshake may take.
constexpr std::chrono::seconds handshake_timeout{30};


}  // namespace

bool smtp_session::auth_allowed() const {
  return password_may_cross(context_.config.smtp.plaintext_auth, io_.encrypted(),
                            io_.peer_is_loopback());
}

std::string_view smtp_session::received_protocol() const {
  // RFC 3848: ESMTP, +S with TLS, +A with AUTH; RFC 6531 3.7.3: UTF8SMTP likewise.
  static constexpr std::string_view names[2][2][2] = {
      {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
      {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}}};
  if (!extended_) return "SMTP";
  return names[transaction_.smtputf8][io_.encrypted()][!authenticated_user_.empty()];
}

smtp_reply smtp_session::on_starttls(const smtp_command& command) {
  if (command.has_argument) return replies::tls_syntax;
  if (!context_.tls_enabled) return replies::tls_unavailable;
  if (io_.encrypted()) return replies::tls_active;
  if (state_ == state::mail || state_ == state::rcpt) return replies::tls_in_transaction;
  tls_requested_ = true;
  return replies::ready_for_tls;
}

asio::awaitable<bool> smtp_session::switch_to_tls() {
  bool secured = co_await io_.start_tls(handshake_timeout);
  metrics::relay().tls_handshake(service_of(role_), secured);
  if (!secured) {
    end_reason_ = "tls_handshake_failed";
    co_return false;
  }
  // RFC 3207 4.2: forget everything learned before the handshake; the client starts over.
  helo_name_.clear();
  extended_ = false;
  transaction_ = {};
  authenticated_user_.clear();
  enter_state(state::connected);
  log::info(id_, "event=tls");
  co_return true;
}

asio::awaitable<std::optional<std::string>> smtp_session::read_auth_response(
    const std::string& challenge) {
  reply({334, "", challenge});
  bool sent = co_await io_.flush();
  if (!sent) co_return std::nullopt;
  io_.set_timeout(context_.config.smtp.command_timeout);
  std::string line;
  auto status = co_await io_.read_line(line, auth_line_limit);
  if (status != connection_io::read_status::line) co_return std::nullopt;
  co_return line;
}

asio::awaitable<smtp_reply> smtp_session::check_credentials(const std::string& user,
                                                           const std::string& password) {
  refusal_.user = user;
  std::optional<user_identity> identity;
  try {
    identity = co_await context_.users.authenticate(user, password);
  } catch (const std::exception& e) {
    log::error(id_, "event=auth_lookup_failed reason=\"{}\"", e.what());
    co_return replies::auth_unavailable;
  }
  metrics::relay().login(false, identity.has_value());
  if (!identity) {
    bool banned = context_.guard.login_failed(io_.peer_bytes());
    asio::steady_timer pause(co_await asio::this_coro::executor, failed_auth_delay);
    std::error_code ec;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (banned) {
      enter_state(state::closing);
      end_reason_ = "too_many_failed_logins";
      co_return replies::auth_banned;
    }
    co_return replies::auth_failed;
  }
  authenticated_user_ = identity->address;
  log::info(id_, "event=auth user={}", authenticated_user_);
  co_return replies::auth_succeeded;
}

asio::awaitable<smtp_reply> smtp_session::on_auth(const smtp_command& command) {
  if (state_ == state::connected || !extended_) co_return replies::auth_needs_ehlo;
  if (!authenticated_user_.empty()) co_return replies::auth_again;
  if (state_ != state::greeted) co_return replies::auth_in_transaction;
  if (!auth_allowed()) co_return replies::auth_needs_tls;
  std::string_view argument = command.argument;
  auto space = argument.find(' ');
  std::string mechanism = lowercase_ascii(argument.substr(0, space));
  std::optional<std::string> initial;
  if (space != std::string_view::npos) initial = std::string(argument.substr(space + 1));

  std::string user, password;
  if (mechanism == "plain") {
    std::optional<std::string> response = initial;
    // RFC 4954 4: "=" is an empty initial response.
    if (response && *response == "=") response = std::string();
    if (!response) response = co_await read_auth_response("");
    if (!response) co_return connection_lost;
    if (*response == "*") co_return replies::auth_cancelled;
    auto credentials = decode_sasl_plain(*response);
    if (!credentials) co_return replies::auth_malformed;
    if (!credentials->authzid.empty() && credentials->authzid != credentials->authcid) {
      co_return replies::auth_identity_differs;
    }
    user = credentials->authcid;
    password = credentials->password;
  } else if (mechanism == "login") {
    // The LOGIN mechanism (draft-murchison-sasl-login): user name, then password.
    std::optional<std::string> user_b64 = initial;
    if (!user_b64) user_b64 = co_await read_auth_response(base64_encode("Username:"));
    if (!user_b64) co_return connection_lost;
    if (*user_b64 == "*") co_return replies::auth_cancelled;
    auto pass_b64 = co_await read_auth_response(base64_encode("Password:"));
    if (!pass_b64) co_return connection_lost;
    if (*pass_b64 == "*") co_return replies::auth_cancelled;
    auto decoded_user = base64_decode(*user_b64);
    auto decoded_password = base64_decode(*pass_b64);
    if (!decoded_user || !decoded_password || decoded_user->empty()) co_return replies::auth_malformed;
    user = *decoded_user;
    password = *decoded_password;
  } else {
    co_return replies::auth_unknown_mechanism;
  }
  co_return co_await check_credentials(user, password);
}

}  // namespace missive
