// The POP3 client: see pop3_client.hpp.
//
// The connection is a client_transport, as in smtp_client.cpp. A response must arrive whole
// within command_timeout, except a RETR body, where each read must make progress within it
// (a large message on a slow but moving link is not cut off). Responses are read a line at a
// time, each within the parser's limit for its kind (status line, data line).
//
// TLS (RFC 2595 4): what the server sent behind its +OK to STLS is discarded unread by the
// transport.
//
// Coroutines here take class-type arguments by const reference only, and keep the result of
// co_await in a named variable before testing it: GCC 12 miscompiles the other forms.
#include "pop3_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "ascii.hpp"
#include "base64.hpp"
#include "client_transport.hpp"

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

using tls_mode = pop3_client_options::tls_mode;

// Octets asked of the socket per read: a message body comes in large pieces.
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
  impl(const asio::any_io_executor& executor, const pop3_client_options& options_)
      : options(options_),
        tls_context(client_context(options)),
        transport(executor, read_chunk),
        parser(options.limits) {}

  // Closes the connection and throws `message`.
  [[noreturn]] void fail(const std::string& message) {
    transport.close();
    throw pop3_client_error(message);
  }

  const std::string& peer() const { return transport.peer(); }

  // Sends `line` (which ends in CRLF) within command_timeout.
  asio::awaitable<void> write_line(const std::string& line, const char* what) {
    auto sent = co_await transport.write(line, options.command_timeout);
    if (sent.status == transport_status::not_connected) {
      fail(fmt::format("not connected: cannot send {} to {}", what, peer()));
    }
    if (sent.status == transport_status::timeout) {
      fail(fmt::format("timeout sending {} to {}", what, peer()));
    }
    if (!sent) fail(fmt::format("cannot send {} to {}: {}", what, peer(), sent.reason));
  }

  // Why a response could not be read, as an error message.
  std::string read_failure(const transport_result& result, const char* what) const {
    switch (result.status) {
      case transport_status::too_long:
        return fmt::format("unreadable reply to {} from {}: {}", what, peer(),
                           describe(pop3_parse_error::line_too_long));
      case transport_status::not_connected:
        return fmt::format("not connected: no reply to {} from {}", what, peer());
      case transport_status::timeout:
        return fmt::format("timeout waiting for the reply to {} from {}", what, peer());
      case transport_status::closed:
        return fmt::format("connection closed by {} during {}", peer(), what);
      default:
        return fmt::format("cannot read the reply to {} from {}: {}", what, peer(), result.reason);
    }
  }

  // Reads one response; with `progress`, each read of the socket must bring data within
  // command_timeout, else the whole response must.
  asio::awaitable<pop3_response> read_response(bool multiline, const char* what, bool progress) {
    parser.expect(multiline);
    const auto timeout = options.command_timeout;
    const auto deadline = progress ? read_deadline::idle_for(timeout)
                                   : read_deadline::at(read_deadline::clock::now() + timeout);
    std::size_t max_line = options.limits.status_line;  // then data lines
    for (;;) {
      auto got = co_await transport.read_line(max_line, deadline);
      if (!got) fail(read_failure(got, what));
      parser.feed(got.line);
      if (parser.error() != pop3_parse_error::none) {
        fail(fmt::format("unreadable reply to {} from {}: {}", what, peer(),
                         describe(parser.error())));
      }
      if (parser.done()) co_return parser.take();
      max_line = options.limits.data_line;
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
    throw pop3_login_error(fmt::format("{} refused the login: {}", peer(), response.text),
                           temporary);
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
        transport.close();
        throw pop3_tls_error(
            fmt::format("{} refused STLS, which is required: {}", peer(), response.text));
      }
      co_return false;
    }
    // Anything the server sent after its +OK came in plaintext: the transport drops it.
    const std::string name = options.tls_server_name.empty() ? host : options.tls_server_name;
    auto upgraded =
        co_await transport.start_tls(tls_context, name, options.verify, options.command_timeout);
    if (upgraded.status == transport_status::timeout) fail(upgraded.reason);
    if (upgraded.status == transport_status::tls_name) throw pop3_tls_error(upgraded.reason);
    if (!upgraded) {
      std::string why = upgraded.reason;
      if (!options.tls_server_name.empty() && options.verify == tls_verify::peer) {
        why += fmt::format("; the certificate was checked for the name {}", name);
      }
      transport.close();
      throw pop3_tls_error(why);
    }
    co_return true;
  }

  pop3_client_options options;
  asio::ssl::context tls_context;  // declared before the transport: outlives its TLS layer
  client_transport transport;
  std::string host;           // as given to connect(); the TLS name unless tls_server_name
  pop3_response_parser parser;
};

pop3_client::pop3_client(asio::any_io_executor executor, pop3_client_options options)
    : impl_(std::make_unique<impl>(std::move(executor), options)) {}
pop3_client::pop3_client(pop3_client&&) noexcept = default;
pop3_client& pop3_client::operator=(pop3_client&&) noexcept = default;
pop3_client::~pop3_client() = default;

asio::awaitable<void> pop3_client::connect(const std::string& host, std::uint16_t port) {
  auto& s = *impl_;
  s.host = host;
  auto connected = co_await s.transport.connect(host, port, s.options.connect_timeout);
  if (!connected) throw pop3_client_error(connected.reason);
  auto greeting = co_await s.read_response(false, "the greeting", false);
  if (!greeting.ok()) s.fail(fmt::format("{} is not available: {}", s.peer(), greeting.text));
}

asio::awaitable<std::vector<std::string>> pop3_client::capabilities() {
  auto& s = *impl_;
  auto capabilities = co_await s.capa();
  const tls_mode mode = s.options.stls;
  if (s.transport.encrypted() || mode == tls_mode::none) co_return capabilities;
  if (!offers_stls(capabilities)) {
    if (mode == tls_mode::required) {
      s.transport.close();
      throw pop3_tls_error(fmt::format("{} does not offer STLS, which is required", s.peer()));
    }
    co_return capabilities;
  }
  const bool upgraded = co_await s.start_tls();
  if (!upgraded) co_return capabilities;
  // RFC 2595 4: the capabilities may differ over TLS (USER, SASL PLAIN); ask again.
  auto again = co_await s.capa();
  co_return again;
}

bool pop3_client::encrypted() const { return impl_ && impl_->transport.encrypted(); }

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
      s.fail(fmt::format("{} does not accept AUTH PLAIN with an initial response", s.peer()));
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
  if (!response.ok()) s.fail(fmt::format("{} refused UIDL: {}", s.peer(), response.text));
  std::vector<pop3_listing_entry> out;
  std::string_view body = response.body;
  while (!body.empty()) {
    auto end = body.find("\r\n");
    std::string_view entry = body.substr(0, end);
    body.remove_prefix(std::min(body.size(), end + 2));
    // RFC 1939 7: "n uid", the uid 1 to 70 characters in 0x21..0x7E.
    auto space = entry.find(' ');
    if (space == std::string_view::npos) s.fail(fmt::format("malformed UIDL line from {}", s.peer()));
    std::uint32_t number = 0;
    auto [ptr, ec] = std::from_chars(entry.data(), entry.data() + space, number);
    std::string_view uid = entry.substr(space + 1);
    if (ec != std::errc() || ptr != entry.data() + space || number == 0 || uid.empty() ||
        uid.size() > 70) {
      s.fail(fmt::format("malformed UIDL line from {}", s.peer()));
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
  if (!response.ok()) s.fail(fmt::format("{} refused RETR {}: {}", s.peer(), number, response.text));
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
  if (!s.transport.is_open()) co_return false;
  s.options.command_timeout = std::min(s.options.command_timeout, quit_timeout);
  const std::string line = "QUIT\r\n";
  auto response = co_await s.command(line, "QUIT", false);
  s.transport.close();
  co_return response.ok();
}

}  // namespace missive
