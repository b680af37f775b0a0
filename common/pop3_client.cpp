// The POP3 client: see pop3_client.hpp.
//
// Deadlines as in smtp_client.cpp: each socket operation runs under an io_deadline, a
// watchdog that cancels it when it passes. A response must arrive whole within command_timeout, except a
// RETR body, where each read must make progress within it (a large message on a slow but
// moving link is not cut off).
//
// TLS (RFC 2595 4): as in smtp_client.cpp, one asio::ssl::stream used through next_layer()
// until the handshake; what the server sent behind its +OK to STLS is discarded unread.
//
// Coroutines here take class-type arguments by const reference only, and keep the result of
// co_await in a named variable before testing it: GCC 12 miscompiles the other forms.
#include "pop3_client.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <charconv>
#include <optional>

#include "ascii.hpp"
#include "base64.hpp"
#include "io_deadline.hpp"

namespace missive {


// ---- the response parser ----

pop3_response_parser::pop3_response_parser(pop3_parser_limits limits) : limits_(limits) {}

void pop3_response_parser::expect(bool multiline) {
  state_ = state::status;
  multiline_ = multiline;
  dropping_ = false;
  line_.clear();
  response_ = {};
  error_ = pop3_parse_error::none;
}

std::size_t pop3_response_parser::feed(std::string_view bytes) {
  std::size_t used = 0;
  while (used < bytes.size() && state_ != state::done && error_ == pop3_parse_error::none) {
    std::string_view rest = bytes.substr(used);
    auto newline = rest.find('\n');
    std::size_t take = newline == std::string_view::npos ? rest.size() : newline + 1;
    const std::size_t limit = state_ == state::status ? limits_.status_line : limits_.data_line;
    if (line_.size() + take > limit) {
      // Too long to be a line of this protocol: the stream is out of step.
      error_ = pop3_parse_error::line_too_long;
      return used + take;
    }
    line_.append(rest.substr(0, take));
    used += take;
    if (newline == std::string_view::npos) break;
    std::string_view line = line_;
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    take_line(line);
    line_.clear();
  }
  return used;
}

void pop3_response_parser::take_line(std::string_view line) {
  if (state_ == state::status) {
    if (line.starts_with("+OK")) {
      response_.kind = pop3_response::status::ok;
      line.remove_prefix(3);
    } else if (line.starts_with("-ERR")) {
      response_.kind = pop3_response::status::err;
      line.remove_prefix(4);
    } else if (line.starts_with("+")) {
      // RFC 5034 4: a SASL continuation, "+ base64".
      response_.kind = pop3_response::status::continuation;
      line.remove_prefix(1);
    } else {
      error_ = pop3_parse_error::malformed;
      return;
    }
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    response_.text = std::string(line);
    // RFC 1939 3: only a positive response has the multi-line body.
    state_ = multiline_ && response_.ok() ? state::body : state::done;
    return;
  }
  if (line == ".") {
    state_ = state::done;
    return;
  }
  // RFC 1939 3: a line starting with "." had it doubled ("byte-stuffed").
  if (line.starts_with(".")) line.remove_prefix(1);
  if (response_.body.size() + line.size() + 2 > limits_.body) {
    error_ = pop3_parse_error::body_too_large;
    return;
  }
  response_.body.append(line);
  response_.body.append("\r\n");
}

// ---- the session ----

namespace {

using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;
using tls_mode = pop3_client_options::tls_mode;

constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::chrono::seconds quit_timeout{10};

const char* describe(pop3_parse_error error) {
  switch (error) {
    case pop3_parse_error::line_too_long: return "a line longer than the limit";
    case pop3_parse_error::body_too_large: return "a message larger than the limit";
    case pop3_parse_error::malformed: return "a response that is neither +OK nor -ERR";
    case pop3_parse_error::none: break;
  }
  return "no error";
}

// Whether the capabilities offer SASL PLAIN (RFC 2449 6.3: "SASL mech ...").
bool offers_sasl_plain(const std::vector<std::string>& capabilities) {
  for (const auto& line : capabilities) {
    if (!istarts_with(line, "SASL")) continue;
    std::string_view rest = std::string_view(line).substr(4);
    while (!rest.empty()) {
      auto start = rest.find_first_not_of(' ');
      if (start == std::string_view::npos) break;
      rest.remove_prefix(start);
      auto end = std::min(rest.find(' '), rest.size());
      if (iequals(rest.substr(0, end), "PLAIN")) return true;
      rest.remove_prefix(end);
    }
  }
  return false;
}

// RFC 2449 8 / RFC 3206: a login refusal that is not about the credentials.
bool temporary_refusal(std::string_view text) {
  return istarts_with(text, "[IN-USE]") || istarts_with(text, "[SYS/TEMP]") ||
         istarts_with(text, "[LOGIN-DELAY]");
}

// Whether the capabilities list STLS (RFC 2595 4), alone on its line.
bool offers_stls(const std::vector<std::string>& capabilities) {
  for (const auto& line : capabilities) {
    std::string_view word = line;
    while (!word.empty() && word.back() == ' ') word.remove_suffix(1);
    if (iequals(word, "STLS")) return true;
  }
  return false;
}

// The context the session's TLS layer is made from; with STLS off it is never used, so it
// checks nothing (and a bad ca_file does not matter).
asio::ssl::context client_context(const pop3_client_options& options) {
  if (options.stls == tls_mode::none) return make_client_tls_context(tls_verify::none);
  return make_client_tls_context(options.verify, options.ca_file);
}


// A command argument must not smuggle a line end into the session.
void check_argument(const std::string& text) {
  if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    throw pop3_login_error("the user name or password contains a line break or NUL", false);
  }
}

}  // namespace

struct pop3_client::impl {
  impl(asio::any_io_executor executor_, pop3_client_options options_)
      : executor(std::move(executor_)),
        options(options_),
        tls_context(client_context(options)),
        stream(std::in_place, executor, tls_context),
        deadline(executor),
        parser(options.limits) {}

  [[noreturn]] void fail(const std::string& message) {
    close();
    throw pop3_client_error(message);
  }

  // Closes the connection (idempotent). No TLS close_notify: the session is over either way.
  void close() {
    std::error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  // The TCP connection under the TLS layer.
  asio::ip::tcp::socket& socket() { return stream->next_layer(); }

  // What the deadline does when it passes: cancels the operation pending on the socket.
  std::function<void()> cancel_io() {
    return [this] {
      std::error_code ignored;
      socket().cancel(ignored);
    };
  }

  // Closes and starts over with a fresh TLS layer for the next connection.
  void reset_connection() {
    close();
    // emplace, not assignment: Asio 1.22's move assignment leaks the replaced SSL object.
    stream.emplace(executor, tls_context);
    encrypted = false;
    input.clear();
    input_start = 0;
  }

  // One read or write on the connection's current layer.
  auto read_some(const asio::mutable_buffer& buffer, std::error_code& ec) {
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    return encrypted ? stream->async_read_some(buffer, token)
                     : socket().async_read_some(buffer, token);
  }
  auto write_some(const asio::const_buffer& buffer, std::error_code& ec) {
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    return encrypted ? stream->async_write_some(buffer, token)
                     : socket().async_write_some(buffer, token);
  }

  asio::awaitable<std::string> connect_to(const asio::ip::tcp::endpoint& endpoint) {
    std::error_code ec;
    deadline.arm(options.connect_timeout, cancel_io());
    co_await socket().async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
    if (deadline.disarm()) {
      close();
      co_return fmt::format("timeout connecting to {}", peer);
    }
    if (ec) {
      close();
      if (ec == asio::error::connection_refused) co_return "connection refused by " + peer;
      co_return fmt::format("cannot connect to {}: {}", peer, ec.message());
    }
    co_return std::string();
  }

  // Sends `line` (which ends in CRLF) within command_timeout.
  asio::awaitable<void> write_line(const std::string& line, const char* what) {
    if (!socket().is_open()) fail(fmt::format("not connected: cannot send {} to {}", what, peer));
    std::size_t sent = 0;
    while (sent < line.size()) {
      std::error_code ec;
      deadline.arm(options.command_timeout, cancel_io());
      std::size_t written =
          co_await write_some(asio::buffer(line.data() + sent, line.size() - sent), ec);
      if (deadline.disarm()) fail(fmt::format("timeout sending {} to {}", what, peer));
      if (ec) fail(fmt::format("cannot send {} to {}: {}", what, peer, ec.message()));
      sent += written;
    }
  }

  // Reads one response; with `progress`, the deadline restarts at each read that brings data.
  asio::awaitable<pop3_response> read_response(bool multiline, const char* what, bool progress) {
    parser.expect(multiline);
    auto until = io_deadline::clock::now() + options.command_timeout;
    for (;;) {
      input_start += parser.feed(std::string_view(input).substr(input_start));
      if (input_start == input.size()) {
        input.clear();
        input_start = 0;
      }
      if (parser.error() != pop3_parse_error::none) {
        fail(fmt::format("unreadable reply to {} from {}: {}", what, peer, describe(parser.error())));
      }
      if (parser.done()) co_return parser.take();
      if (!socket().is_open()) fail(fmt::format("not connected: no reply to {} from {}", what, peer));
      if (progress) until = io_deadline::clock::now() + options.command_timeout;
      input.resize(read_chunk);
      std::error_code ec;
      deadline.arm_at(until, cancel_io());
      std::size_t got = co_await read_some(asio::buffer(input), ec);
      if (deadline.disarm()) {
        input.clear();
        fail(fmt::format("timeout waiting for the reply to {} from {}", what, peer));
      }
      input.resize(got);
      // Over TLS a close without close_notify is "stream truncated": closed all the same.
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) fail(fmt::format("connection closed by {} during {}", peer, what));
      if (ec) fail(fmt::format("cannot read the reply to {} from {}: {}", what, peer, ec.message()));
    }
  }

  asio::awaitable<pop3_response> command(const std::string& line, const char* what, bool multiline) {
    co_await write_line(line, what);
    auto response = co_await read_response(multiline, what, false);
    co_return response;
  }

  // Reports a refused login.
  [[noreturn]] void refused(const pop3_response& response) {
    bool temporary = temporary_refusal(response.text);
    throw pop3_login_error(fmt::format("{} refused the login: {}", peer, response.text), temporary);
  }

  // CAPA: the capability lines, empty when the server does not know CAPA.
  asio::awaitable<std::vector<std::string>> capa() {
    const std::string line = "CAPA\r\n";
    auto response = co_await command(line, "CAPA", true);
    std::vector<std::string> out;
    if (!response.ok()) co_return out;
    std::string_view body = response.body;
    while (!body.empty()) {
      auto end = body.find("\r\n");
      out.emplace_back(body.substr(0, end));
      body.remove_prefix(std::min(body.size(), end + 2));
    }
    co_return out;
  }

  // RFC 2595 4: STLS, then the handshake within command_timeout. Returns false when an
  // opportunistic session stays in plaintext (the server refused STLS); throws
  // pop3_tls_error when TLS was required, or the handshake failed (the connection is then
  // closed: it is out of step).
  asio::awaitable<bool> start_tls() {
    const std::string line = "STLS\r\n";
    auto response = co_await command(line, "STLS", false);
    if (!response.ok()) {
      if (options.stls == tls_mode::required) {
        close();
        throw pop3_tls_error(
            fmt::format("{} refused STLS, which is required: {}", peer, response.text));
      }
      co_return false;
    }
    // Anything the server sent after its +OK came in plaintext: dropped unread.
    input.clear();
    input_start = 0;
    const std::string& name = options.tls_server_name.empty() ? host : options.tls_server_name;
    if (!prepare_client_tls(stream->native_handle(), name, options.verify)) {
      throw pop3_tls_error(fmt::format("cannot check a certificate for {}", name));
    }
    std::error_code ec;
    deadline.arm(options.command_timeout, cancel_io());
    co_await stream->async_handshake(asio::ssl::stream_base::client,
                                     asio::redirect_error(asio::use_awaitable, ec));
    if (deadline.disarm()) fail(fmt::format("timeout in the TLS handshake with {}", peer));
    if (ec) {
      std::string why = handshake_failure(stream->native_handle(), ec);
      if (!options.tls_server_name.empty() && options.verify == tls_verify::peer) {
        why += fmt::format("; the certificate was checked for the name {}", name);
      }
      close();
      throw pop3_tls_error(fmt::format("TLS handshake with {} failed: {}", peer, why));
    }
    encrypted = true;
    co_return true;
  }

  asio::any_io_executor executor;
  pop3_client_options options;
  asio::ssl::context tls_context;
  std::optional<tls_stream> stream;  // the connection: next_layer() until STLS, TLS after
  bool encrypted = false;     // whether reads and writes go through the TLS layer
  std::string host;           // as given to connect(); the TLS name unless tls_server_name
  io_deadline deadline;  // of the current read, write, connect or handshake
  pop3_response_parser parser;
  std::string input;
  std::size_t input_start = 0;
  std::string peer;
};

pop3_client::pop3_client(asio::any_io_executor executor, pop3_client_options options)
    : impl_(std::make_unique<impl>(std::move(executor), options)) {}
pop3_client::pop3_client(pop3_client&&) noexcept = default;
pop3_client& pop3_client::operator=(pop3_client&&) noexcept = default;
pop3_client::~pop3_client() = default;

asio::awaitable<void> pop3_client::connect(const std::string& host, std::uint16_t port) {
  auto& s = *impl_;
  s.reset_connection();
  s.host = host;
  s.peer = fmt::format("{}:{}", host, port);
  asio::ip::tcp::resolver resolver(s.executor);
  std::error_code ec;
  const std::string service = std::to_string(port);
  auto endpoints = co_await resolver.async_resolve(host, service,
                                                   asio::ip::resolver_base::numeric_service,
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) throw pop3_client_error(fmt::format("cannot resolve {}: {}", host, ec.message()));
  std::string failures;
  for (const auto& entry : endpoints) {
    const asio::ip::tcp::endpoint endpoint = entry.endpoint();
    s.peer = fmt::format("{}[{}]:{}", host, endpoint.address().to_string(), endpoint.port());
    auto failure = co_await s.connect_to(endpoint);
    if (failure.empty()) {
      auto greeting = co_await s.read_response(false, "the greeting", false);
      if (!greeting.ok()) s.fail(fmt::format("{} is not available: {}", s.peer, greeting.text));
      co_return;
    }
    failures += failures.empty() ? failure : "; " + failure;
  }
  if (failures.empty()) failures = fmt::format("no address found for {}", host);
  throw pop3_client_error(failures);
}

asio::awaitable<std::vector<std::string>> pop3_client::capabilities() {
  auto& s = *impl_;
  auto capabilities = co_await s.capa();
  const tls_mode mode = s.options.stls;
  if (s.encrypted || mode == tls_mode::none) co_return capabilities;
  if (!offers_stls(capabilities)) {
    if (mode == tls_mode::required) {
      s.close();
      throw pop3_tls_error(fmt::format("{} does not offer STLS, which is required", s.peer));
    }
    co_return capabilities;
  }
  const bool upgraded = co_await s.start_tls();
  if (!upgraded) co_return capabilities;
  // RFC 2595 4: the capabilities may differ over TLS (USER, SASL PLAIN); ask again.
  auto again = co_await s.capa();
  co_return again;
}

bool pop3_client::encrypted() const { return impl_ && impl_->encrypted; }

asio::awaitable<void> pop3_client::login(const std::string& user, const std::string& password,
                                         const std::vector<std::string>& capabilities) {
  auto& s = *impl_;
  check_argument(user);
  check_argument(password);
  if (offers_sasl_plain(capabilities)) {
    // RFC 5034 4 with RFC 4616: the initial response on the AUTH line.
    std::string message;
    message += '\0';
    message += user;
    message += '\0';
    message += password;
    const std::string line = "AUTH PLAIN " + base64_encode(message) + "\r\n";
    auto response = co_await s.command(line, "AUTH PLAIN", false);
    if (response.kind == pop3_response::status::continuation) {
      // A server that does not take an initial response asks for it: cancel (RFC 5034 4).
      const std::string cancel = "*\r\n";
      auto ignored = co_await s.command(cancel, "AUTH cancel", false);
      (void)ignored;
      s.fail(fmt::format("{} does not accept AUTH PLAIN with an initial response", s.peer));
    }
    if (!response.ok()) s.refused(response);
    co_return;
  }
  const std::string user_line = "USER " + user + "\r\n";
  auto response = co_await s.command(user_line, "USER", false);
  if (!response.ok()) s.refused(response);
  const std::string pass_line = "PASS " + password + "\r\n";
  auto pass = co_await s.command(pass_line, "PASS", false);
  if (!pass.ok()) s.refused(pass);
}

asio::awaitable<std::vector<pop3_listing_entry>> pop3_client::unique_ids() {
  auto& s = *impl_;
  const std::string line = "UIDL\r\n";
  auto response = co_await s.command(line, "UIDL", true);
  if (!response.ok()) s.fail(fmt::format("{} refused UIDL: {}", s.peer, response.text));
  std::vector<pop3_listing_entry> out;
  std::string_view body = response.body;
  while (!body.empty()) {
    auto end = body.find("\r\n");
    std::string_view entry = body.substr(0, end);
    body.remove_prefix(std::min(body.size(), end + 2));
    // RFC 1939 7: "n uid", the uid 1 to 70 characters in 0x21..0x7E.
    auto space = entry.find(' ');
    if (space == std::string_view::npos) s.fail(fmt::format("malformed UIDL line from {}", s.peer));
    std::uint32_t number = 0;
    auto [ptr, ec] = std::from_chars(entry.data(), entry.data() + space, number);
    std::string_view uid = entry.substr(space + 1);
    if (ec != std::errc() || ptr != entry.data() + space || number == 0 || uid.empty() ||
        uid.size() > 70) {
      s.fail(fmt::format("malformed UIDL line from {}", s.peer));
    }
    out.push_back({number, std::string(uid)});
  }
  co_return out;
}

asio::awaitable<std::string> pop3_client::retrieve(const std::uint32_t& number) {
  auto& s = *impl_;
  const std::string line = fmt::format("RETR {}\r\n", number);
  co_await s.write_line(line, "RETR");
  auto response = co_await s.read_response(true, "RETR", true);
  if (!response.ok()) s.fail(fmt::format("{} refused RETR {}: {}", s.peer, number, response.text));
  co_return std::move(response.body);
}

asio::awaitable<bool> pop3_client::remove(const std::uint32_t& number) {
  auto& s = *impl_;
  const std::string line = fmt::format("DELE {}\r\n", number);
  auto response = co_await s.command(line, "DELE", false);
  co_return response.ok();
}

asio::awaitable<bool> pop3_client::quit() {
  auto& s = *impl_;
  if (!s.socket().is_open()) co_return false;
  s.options.command_timeout = std::min(s.options.command_timeout, quit_timeout);
  const std::string line = "QUIT\r\n";
  auto response = co_await s.command(line, "QUIT", false);
  s.close();
  co_return response.ok();
}

}  // namespace missive
