// An outbound SMTP client session (RFC 5321) over Asio coroutines: see smtp_client.hpp.
//
// The connection is a client_transport: connect, STARTTLS's upgrade, line reads and writes,
// each under a deadline. A reply must arrive whole within its timeout (a server that drips
// one octet a minute gains nothing); a write must make progress within its timeout on each
// write to the socket (RFC 5321 4.5.3.2.5 counts the data block per send, so a large message
// on a slow but moving link is not cut off); connect_timeout applies to each address tried.
//
// Failure: anything that leaves the session out of step (EOF, reset, timeout, a reply that
// cannot be read within the parser's limits) closes the connection and throws
// smtp_client_error naming the peer and what was awaited. Replies, even 4xx and 5xx, are
// values: the caller decides what they mean for each recipient.
//
// TLS (RFC 3207): the handshake has the command deadline like any step. Whatever the server
// sent behind its 220 in plaintext is discarded unread by the transport (a man in the middle
// could have put commands' replies there: CVE-2011-0411 seen from the client's side), and
// the extensions are learned again.
//
// Coroutines here take class-type arguments by const reference only, and keep the result of
// co_await in a named variable before testing it: GCC 12 miscompiles the other forms.
#include "smtp_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "ascii.hpp"
#include "base64.hpp"
#include "client_transport.hpp"
#include "dot_stuffing.hpp"
#include "limits.hpp"
#include "smtp_reply_parser.hpp"

namespace missive {

namespace {

// Octets asked of the socket per read; replies are small.
constexpr std::size_t read_chunk = 4096;
// The output buffer is released after a message larger than this, not kept for the next.
constexpr std::size_t keep_output_capacity = 1 << 20;
// RFC 5321 4.1.1.10 asks us to wait for the reply to QUIT; not for long, nothing depends on it.
constexpr std::chrono::seconds quit_timeout{5};

using tls_mode = smtp_client_options::tls_mode;

bool positive(const smtp_reply& reply) { return reply.code / 100 == 2; }
bool intermediate(const smtp_reply& reply) { return reply.code / 100 == 3; }

// What was awaited, for error messages.
std::string awaited(const char* verb) {
  return verb == nullptr ? std::string("greeting") : fmt::format("reply to {}", verb);
}

// Why a reply could not be read, in words.
const char* describe(reply_error error) {
  switch (error) {
    case reply_error::line_too_long: return "a reply line over 512 octets";
    case reply_error::too_many_lines: return "too many reply lines";
    case reply_error::malformed: return "a malformed reply line";
    case reply_error::none: break;
  }
  return "no error";
}

// An address must not smuggle a line end into the command (it would be a second command).
void check_address(const std::string& address) {
  if (address.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    throw std::invalid_argument("SMTP address contains CR, LF or NUL");
  }
}

// The value of SIZE: the limit in octets, 0 when absent or unreadable (no fixed limit).
std::uint64_t parse_size(std::string_view value) {
  std::uint64_t size = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), size);
  return ec == std::errc() && end == value.data() + value.size() ? size : 0;
}

// Adds AUTH mechanisms, uppercased, once each.
void add_auth(smtp_extensions& extensions, std::string_view mechanism) {
  if (mechanism.empty()) return;
  std::string upper(mechanism);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char c) { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; });
  if (std::find(extensions.auth.begin(), extensions.auth.end(), upper) == extensions.auth.end()) {
    extensions.auth.push_back(std::move(upper));
  }
}

// Takes one EHLO keyword line, "KEYWORD param..." (RFC 5321 4.1.1.1), case-insensitive.
void take_ehlo_line(smtp_extensions& extensions, std::string_view line) {
  std::vector<std::string_view> words;
  while (!line.empty()) {
    auto start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    auto end = std::min(line.find_first_of(" \t"), line.size());
    words.push_back(line.substr(0, end));
    line.remove_prefix(end);
  }
  if (words.empty()) return;
  std::string_view keyword = words[0];
  if (iequals(keyword, "PIPELINING")) {
    extensions.pipelining = true;
  } else if (iequals(keyword, "SIZE")) {
    extensions.size = words.size() > 1 ? parse_size(words[1]) : 0;  // RFC 1870 4
  } else if (iequals(keyword, "8BITMIME")) {
    extensions.eight_bit_mime = true;
  } else if (iequals(keyword, "SMTPUTF8")) {
    extensions.smtputf8 = true;
  } else if (iequals(keyword, "STARTTLS")) {
    extensions.starttls = true;
  } else if (iequals(keyword, "ENHANCEDSTATUSCODES")) {
    extensions.enhanced_status_codes = true;
  } else if (iequals(keyword, "DSN")) {
    extensions.dsn = true;
  } else if (iequals(keyword, "CHUNKING")) {
    extensions.chunking = true;
  } else if (iequals(keyword, "AUTH") || istarts_with(keyword, "AUTH=")) {
    // "AUTH=PLAIN LOGIN" is how pre-RFC 4954 servers spell it; many still send both forms.
    if (keyword.size() > 5) add_auth(extensions, keyword.substr(5));
    for (std::size_t i = 1; i < words.size(); ++i) add_auth(extensions, words[i]);
  }
}

// What an EHLO reply's text offers: its first line is the server's greeting, each further
// line one extension.
smtp_extensions parse_ehlo(std::string_view text) {
  smtp_extensions extensions;
  extensions.esmtp = true;
  auto newline = text.find('\n');
  while (newline != std::string_view::npos) {
    text.remove_prefix(newline + 1);
    newline = text.find('\n');
    take_ehlo_line(extensions, text.substr(0, newline));
  }
  return extensions;
}

// "MAIL FROM:<sender>" with the parameters the server offered (RFC 1870, 6152, 6531).
std::string mail_command(const smtp_envelope& envelope, std::size_t size,
                         const smtp_extensions& extensions) {
  std::string line = "MAIL FROM:<" + envelope.sender + ">";
  if (extensions.size) line += fmt::format(" SIZE={}", size);
  if (envelope.eight_bit && extensions.eight_bit_mime) line += " BODY=8BITMIME";
  if (envelope.smtputf8 && extensions.smtputf8) line += " SMTPUTF8";
  if (extensions.dsn) line += envelope.mail_dsn_parameters;
  line += "\r\n";
  return line;
}

// "RCPT TO:<recipient>" for the i-th recipient, with its DSN parameters when offered.
std::string rcpt_command(const smtp_envelope& envelope, std::size_t i,
                         const smtp_extensions& extensions) {
  std::string line = "RCPT TO:<" + envelope.recipients[i] + ">";
  if (extensions.dsn && i < envelope.rcpt_dsn_parameters.size()) {
    line += envelope.rcpt_dsn_parameters[i];
  }
  line += "\r\n";
  return line;
}

// The content as one last BDAT chunk (RFC 3030 2): the command, then the octets as they
// are. A content without a final CRLF gets one, as DATA's dot-stuffing gives it.
void append_bdat(std::string& out, const std::string& content) {
  const bool complete = content.empty() || content.ends_with("\r\n");
  out += fmt::format("BDAT {} LAST\r\n", content.size() + (complete ? 0 : 2));
  out += content;
  if (!complete) out += "\r\n";
}

// DSN parameter values must not smuggle a line end or a space into the command.
void check_parameters(const std::string& parameters) {
  if (parameters.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    throw std::invalid_argument("SMTP parameter contains CR, LF or NUL");
  }
}

// The context the session's TLS layer is made from; with STARTTLS off it is never used, so
// it checks nothing (and a bad ca_file does not matter).
asio::ssl::context client_context(const smtp_client_options& options) {
  if (options.starttls == tls_mode::none) return make_client_tls_context(tls_verify::none);
  return make_client_tls_context(options.verify, options.ca_file);
}

}  // namespace

struct smtp_client::impl {
  impl(const asio::any_io_executor& executor, smtp_client_options options_)
      : options(std::move(options_)),
        tls_context(client_context(options)),
        transport(executor, read_chunk),
        parser(options.max_reply_lines) {}

  // Closes the connection and throws `message`.
  [[noreturn]] void fail(const std::string& message) {
    transport.close();
    throw smtp_client_error(message);
  }

  // Forgets what the last connection taught: a new one starts with a new greeting.
  void forget_session() {
    parser = smtp_reply_parser(options.max_reply_lines);
    extensions = smtp_extensions();
  }

  const std::string& peer() const { return transport.peer(); }

  // Sends `output`, each write making progress within `timeout`; `verb` names it in errors.
  asio::awaitable<void> write_output(const char* verb, const std::chrono::seconds& timeout) {
    auto sent = co_await transport.write(output, timeout);
    if (sent.status == transport_status::not_connected) {
      fail(fmt::format("not connected: cannot send {} to {}", verb, peer()));
    }
    if (sent.status == transport_status::timeout) {
      fail(fmt::format("timeout sending {} to {}", verb, peer()));
    }
    if (!sent) fail(fmt::format("cannot send {} to {}: {}", verb, peer(), sent.reason));
    output.clear();
    if (output.capacity() > keep_output_capacity) std::string().swap(output);
  }

  // Why a reply could not be read, as an error message.
  std::string read_failure(const transport_result& result, const char* verb) const {
    switch (result.status) {
      case transport_status::too_long:
        return fmt::format("unreadable {} from {}: {}", awaited(verb), peer(),
                           describe(reply_error::line_too_long));
      case transport_status::not_connected:
        return fmt::format("not connected: no {} from {}", awaited(verb), peer());
      case transport_status::timeout:
        return fmt::format("timeout waiting for {} from {}", awaited(verb), peer());
      case transport_status::closed:
        return fmt::format("connection closed by {} while waiting for {}", peer(), awaited(verb));
      case transport_status::reset:
        return fmt::format("connection reset by {} while waiting for {}", peer(), awaited(verb));
      default:
        return fmt::format("cannot read {} from {}: {}", awaited(verb), peer(), result.reason);
    }
  }

  // Reads one whole reply within `timeout`; `verb` is the command answered (null: greeting).
  asio::awaitable<smtp_reply> read_reply(const char* verb, const std::chrono::seconds& timeout) {
    // For the whole reply; a line is at most limits::smtp_reply_line octets with its CRLF.
    const auto deadline = read_deadline::at(read_deadline::clock::now() + timeout);
    for (;;) {
      auto got = co_await transport.read_line(limits::smtp_reply_line, deadline);
      if (!got) fail(read_failure(got, verb));
      parser.feed(got.line);
      if (parser.error() != reply_error::none) {
        fail(fmt::format("unreadable {} from {}: {}", awaited(verb), peer(),
                         describe(parser.error())));
      }
      if (parser.done()) {
        smtp_reply reply = parser.reply();
        parser.next();
        co_return reply;
      }
    }
  }

  // Sends the command line in `output` and reads its reply, both within command_timeout.
  asio::awaitable<smtp_reply> command(const char* verb) {
    co_await write_output(verb, options.command_timeout);
    auto reply = co_await read_reply(verb, options.command_timeout);
    co_return reply;
  }

  // RFC 2920: MAIL, every RCPT and DATA in one write, then their replies in order. With
  // all_recipients, DATA waits for the RCPT replies (RFC 2920 3.1 lets it stand alone):
  // after a 354 there is no way back but a dropped connection.
  asio::awaitable<void> send_pipelined(const smtp_envelope& envelope, const std::string& content,
                                       smtp_transaction_result& result) {
    output = mail_command(envelope, content.size(), extensions);
    for (std::size_t i = 0; i < envelope.recipients.size(); ++i) {
      output += rcpt_command(envelope, i, extensions);
    }
    // RFC 3030 4.1: BDAT may be pipelined behind RCPT; a server with no recipient answers
    // it 503 and drops the chunk.
    const bool chunking = extensions.chunking;
    if (!envelope.all_recipients) {
      if (chunking) append_bdat(output, content);
      else output += "DATA\r\n";
    }
    co_await write_output(envelope.all_recipients ? "MAIL and RCPT" : "MAIL, RCPT and DATA",
                          options.command_timeout);
    result.mail = co_await read_reply("MAIL", options.command_timeout);
    const bool mail_ok = positive(result.mail);
    bool any_recipient = false;
    bool every_recipient = true;
    for (std::size_t i = 0; i < envelope.recipients.size(); ++i) {
      auto reply = co_await read_reply("RCPT", options.command_timeout);
      any_recipient = any_recipient || positive(reply);
      every_recipient = every_recipient && positive(reply);
      // After a refused MAIL the RCPT replies only say "bad sequence": the MAIL reply is
      // the one that applies to every recipient, so they are not reported.
      if (mail_ok) result.recipients.push_back(std::move(reply));
    }
    if (envelope.all_recipients) {
      if (!mail_ok || !every_recipient) {
        co_await abandon();
        co_return;
      }
      if (chunking) {
        output.clear();
        append_bdat(output, content);
        co_await write_output("BDAT", options.command_timeout);
        result.data_end = co_await read_reply("BDAT", options.data_timeout);
        co_return;
      }
      output = "DATA\r\n";
      auto data = co_await command("DATA");
      result.data_command = data;
      if (!intermediate(data)) co_return;
      co_await send_content(content, result);
      co_return;
    }
    if (chunking) {
      auto last = co_await read_reply("BDAT", options.data_timeout);
      // Refused for want of recipients, the chunk delivered nothing: data_end stays empty.
      if (mail_ok && any_recipient) result.data_end = last;
      co_return;
    }
    auto data = co_await read_reply("DATA", options.command_timeout);
    result.data_command = data;
    if (!intermediate(data)) co_return;
    if (!mail_ok || !any_recipient) {
      // RFC 2920 3.1: DATA was accepted though nobody can receive the message; end the
      // empty data at once. Whatever the server answers, nothing was delivered, and
      // data_end stays empty (the MAIL or RCPT replies say why).
      output = ".\r\n";
      co_await write_output("end of DATA", options.command_timeout);
      auto ignored = co_await read_reply("end of DATA", options.command_timeout);
      (void)ignored;
      co_return;
    }
    co_await send_content(content, result);
  }

  // Without pipelining: one command at a time, stopping as soon as the rest is pointless.
  asio::awaitable<void> send_in_turn(const smtp_envelope& envelope, const std::string& content,
                                     smtp_transaction_result& result) {
    output = mail_command(envelope, content.size(), extensions);
    result.mail = co_await command("MAIL");
    if (!positive(result.mail)) co_return;
    bool any_recipient = false;
    bool every_recipient = true;
    for (std::size_t i = 0; i < envelope.recipients.size(); ++i) {
      output = rcpt_command(envelope, i, extensions);
      auto reply = co_await command("RCPT");
      any_recipient = any_recipient || positive(reply);
      every_recipient = every_recipient && positive(reply);
      result.recipients.push_back(std::move(reply));
    }
    if (envelope.all_recipients && !every_recipient) {
      co_await abandon();
      co_return;
    }
    if (!any_recipient) co_return;
    if (extensions.chunking) {
      output.clear();
      append_bdat(output, content);
      co_await write_output("BDAT", options.command_timeout);
      result.data_end = co_await read_reply("BDAT", options.data_timeout);
      co_return;
    }
    output = "DATA\r\n";
    auto data = co_await command("DATA");
    result.data_command = data;
    if (!intermediate(data)) co_return;
    co_await send_content(content, result);
  }

  // RSET (RFC 5321 4.1.1.5) after MAIL and RCPT: the transaction is dropped and nothing is
  // delivered. Its reply changes nothing, and neither does a connection that breaks now:
  // the server holds no message either way.
  asio::awaitable<void> abandon() {
    output = "RSET\r\n";
    try {
      auto reply = co_await command("RSET");
      (void)reply;
    } catch (const smtp_client_error&) {
      // fail() has closed the connection; quit() will find it closed.
    }
  }

  // After 354: the content dot-stuffed with its terminating ".", then the final reply
  // within data_timeout (RFC 5321 4.5.3.2.6).
  asio::awaitable<void> send_content(const std::string& content, smtp_transaction_result& result) {
    output.clear();
    append_dot_stuffed(output, content);
    co_await write_output("message data", options.command_timeout);
    result.data_end = co_await read_reply("end of DATA", options.data_timeout);
  }

  // RFC 3207: STARTTLS, then the handshake within command_timeout. Returns false when an
  // opportunistic session stays in plaintext (the server refused STARTTLS); throws
  // smtp_tls_error when TLS was required, or the handshake failed (the connection is then
  // closed: it is out of step).
  asio::awaitable<bool> start_tls() {
    output = "STARTTLS\r\n";
    auto reply = co_await command("STARTTLS");
    if (reply.code != 220) {
      if (options.starttls == tls_mode::required) {
        transport.close();
        throw smtp_tls_error(fmt::format("{} refused STARTTLS, which is required: {} {}", peer(),
                                         reply.code, reply.text),
                             reply.code / 100 == 4);
      }
      co_return false;
    }
    // RFC 3207 4.2: anything the server sent after its 220 came in plaintext: the
    // transport drops it, and the parser starts afresh.
    parser = smtp_reply_parser(options.max_reply_lines);
    const std::string name = options.tls_server_name.empty() ? host : options.tls_server_name;
    auto upgraded =
        co_await transport.start_tls(tls_context, name, options.verify, options.command_timeout);
    if (upgraded.status == transport_status::timeout) fail(upgraded.reason);
    if (upgraded.status == transport_status::tls_name) throw smtp_tls_error(upgraded.reason);
    if (!upgraded) {
      std::string why = upgraded.reason;
      if (!options.tls_server_name.empty() && options.verify == tls_verify::peer) {
        why += fmt::format("; the certificate was checked for the name {}", name);
      }
      transport.close();
      throw smtp_tls_error(why);
    }
    extensions = smtp_extensions();
    co_return true;
  }

  // After a failed opportunistic handshake: the same address again, greeting and EHLO, and
  // no STARTTLS this time. Returns the EHLO (or greeting, when not 2xx) reply.
  asio::awaitable<smtp_reply> reconnect_without_tls() {
    forget_session();
    auto connected = co_await transport.reconnect(options.connect_timeout);
    if (!connected) throw smtp_client_error(connected.reason);
    auto greeting = co_await read_reply(nullptr, options.command_timeout);
    if (!positive(greeting)) co_return greeting;
    auto reply = co_await greet();
    co_return reply;
  }

  // EHLO, or HELO when EHLO is refused with 5xx; the extensions are what the reply offers.
  asio::awaitable<smtp_reply> greet() {
    extensions = smtp_extensions();
    output = "EHLO " + options.helo_name + "\r\n";
    auto reply = co_await command("EHLO");
    if (positive(reply)) {
      extensions = parse_ehlo(reply.text);
      co_return reply;
    }
    // RFC 5321 3.2: a server that does not know EHLO refuses it (500, 502, 504, 550 are
    // seen); any 5xx gets HELO. A 4xx is the server's answer as it stands.
    if (reply.code / 100 != 5) co_return reply;
    output = "HELO " + options.helo_name + "\r\n";
    auto helo = co_await command("HELO");
    co_return helo;
  }

  smtp_client_options options;
  asio::ssl::context tls_context;  // declared before the transport: outlives its TLS layer
  client_transport transport;
  std::string host;           // as given to connect(); the TLS name unless tls_server_name
  smtp_reply_parser parser;
  std::string output;         // what the next write sends
  smtp_extensions extensions;
};

smtp_client::smtp_client(asio::any_io_executor executor, smtp_client_options options)
    : impl_(std::make_unique<impl>(std::move(executor), std::move(options))) {}
smtp_client::smtp_client(smtp_client&&) noexcept = default;
smtp_client& smtp_client::operator=(smtp_client&&) noexcept = default;
smtp_client::~smtp_client() = default;

asio::awaitable<smtp_reply> smtp_client::connect(const std::string& host, std::uint16_t port) {
  auto& s = *impl_;
  s.forget_session();
  s.host = host;
  auto connected = co_await s.transport.connect(host, port, s.options.connect_timeout);
  if (!connected) throw smtp_client_error(connected.reason);
  auto greeting = co_await s.read_reply(nullptr, s.options.command_timeout);
  co_return greeting;
}

asio::awaitable<smtp_reply> smtp_client::hello() {
  auto& s = *impl_;
  auto reply = co_await s.greet();
  const tls_mode mode = s.options.starttls;
  if (!positive(reply) || s.transport.encrypted() || mode == tls_mode::none) co_return reply;
  if (!s.extensions.starttls) {
    if (mode == tls_mode::required) {
      s.transport.close();
      throw smtp_tls_error(fmt::format("{} does not offer STARTTLS, which is required", s.peer()));
    }
    co_return reply;
  }
  // Opportunistic encryption that checks nothing falls back to plaintext on a fresh
  // connection when the handshake fails, as Postfix's "may" level does (RFC 7435 3): the
  // alternative, no delivery at all, protects nothing. With tls_verify::peer a failed check
  // is an answer, not an accident.
  const bool fallback = mode == tls_mode::opportunistic && s.options.verify == tls_verify::none;
  bool upgraded = false;
  bool handshake_failed = false;
  try {
    upgraded = co_await s.start_tls();
  } catch (const smtp_tls_error&) {
    if (!fallback) throw;
    handshake_failed = true;
  }
  if (handshake_failed) {
    auto plain = co_await s.reconnect_without_tls();
    co_return plain;
  }
  if (!upgraded) co_return reply;
  // RFC 3207 4.2: everything learned before TLS is forgotten; EHLO again.
  auto again = co_await s.greet();
  co_return again;
}

bool smtp_client::encrypted() const { return impl_ && impl_->transport.encrypted(); }

const smtp_extensions& smtp_client::extensions() const { return impl_->extensions; }

asio::awaitable<smtp_transaction_result> smtp_client::send(const smtp_envelope& envelope,
                                                           const std::string& content) {
  auto& s = *impl_;
  check_address(envelope.sender);
  for (const auto& recipient : envelope.recipients) check_address(recipient);
  check_parameters(envelope.mail_dsn_parameters);
  for (const auto& parameters : envelope.rcpt_dsn_parameters) check_parameters(parameters);
  smtp_transaction_result result;
  const auto& limit = s.extensions.size;
  if (limit && *limit > 0 && content.size() > *limit) {
    // RFC 1870 6: the server declared a fixed maximum; sending would only be refused with
    // 552 after the whole transfer. Nothing is sent; the answer is the one the server
    // would give, a permanent failure for every recipient.
    result.mail = smtp_reply{
        552, "5.3.4",
        fmt::format("message size {} exceeds the next hop's limit of {} octets", content.size(),
                    *limit)};
    co_return result;
  }
  if (s.extensions.pipelining) {
    co_await s.send_pipelined(envelope, content, result);
  } else {
    co_await s.send_in_turn(envelope, content, result);
  }
  co_return result;
}

asio::awaitable<smtp_reply> smtp_client::reset() {
  auto& s = *impl_;
  s.output = "RSET\r\n";
  auto reply = co_await s.command("RSET");
  co_return reply;
}

asio::awaitable<void> smtp_client::quit() {
  if (!impl_) co_return;
  auto& s = *impl_;
  if (s.transport.is_open()) {
    try {
      const std::chrono::seconds timeout = std::min(s.options.command_timeout, quit_timeout);
      s.output = "QUIT\r\n";
      co_await s.write_output("QUIT", timeout);
      auto reply = co_await s.read_reply("QUIT", timeout);
      (void)reply;
    } catch (...) {
      // The session ends either way: a missing or odd reply to QUIT changes nothing.
    }
  }
  s.transport.close();
  s.output.clear();
}

const std::string& smtp_client::peer() const { return impl_->peer(); }

asio::awaitable<smtp_reply> smtp_client::authenticate(const std::string& user,
                                                      const std::string& password) {
  auto& s = *impl_;
  const auto& mechanisms = s.extensions.auth;
  auto offered = [&](std::string_view name) {
    return std::find(mechanisms.begin(), mechanisms.end(), name) != mechanisms.end();
  };
  if (offered("PLAIN")) {
    // RFC 4954 4: the initial response on the AUTH line; "authzid NUL authcid NUL passwd".
    std::string message;
    message += '\0';
    message += user;
    message += '\0';
    message += password;
    s.output = "AUTH PLAIN " + base64_encode(message) + "\r\n";
    auto reply = co_await s.command("AUTH");
    co_return reply;
  }
  if (!offered("LOGIN")) {
    throw smtp_client_error(fmt::format("{} offers neither AUTH PLAIN nor AUTH LOGIN", s.peer()));
  }
  // AUTH LOGIN (draft-murchison-sasl-login): the user name and the password, each asked for
  // with a 334 challenge.
  s.output = "AUTH LOGIN\r\n";
  auto reply = co_await s.command("AUTH");
  if (reply.code != 334) co_return reply;
  s.output = base64_encode(user) + "\r\n";
  reply = co_await s.command("AUTH");
  if (reply.code != 334) co_return reply;
  s.output = base64_encode(password) + "\r\n";
  reply = co_await s.command("AUTH");
  co_return reply;
}

}  // namespace missive
