// One inbound SMTP session: see smtp_session.hpp.
#include "smtp_session.hpp"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <random>

#include "data_directory.hpp"
#include "data_reader.hpp"
#include "delivery_headers.hpp"
#include "delivery_scheduler.hpp"
#include "authentication_results.hpp"
#include "dkim_canonical.hpp"
#include "dkim_signer.hpp"
#include "dmarc_check.hpp"
#include "spf_check.hpp"
#include "limits.hpp"
#include "log.hpp"
#include "mail_store.hpp"
#include "message_headers.hpp"
#include "metrics.hpp"
#include "offload.hpp"
#include "queue_id.hpp"
#include "remote_delivery.hpp"
#include "server_config.hpp"
#include "server_context.hpp"
#include "smtp_replies.hpp"
#include "store_error.hpp"
#include "user_directory.hpp"

namespace missive {

namespace {

// Whether a command line holds control characters (NUL, bare CR, ...) that no command
// allows; refusing them keeps them out of logs and trace headers.
bool has_control_characters(std::string_view line) {
  return std::any_of(line.begin(), line.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

// Protocol errors in a row after which the session ends (a confused or hostile client).
constexpr std::size_t max_protocol_errors = 3;

// Whether a reply says the client broke the protocol (syntax, sequence, unknown command).
bool is_protocol_error(int code) {
  return code == 500 || code == 501 || code == 502 || code == 503 || code == 504 || code == 555;
}

// Whether a command line is an HTTP request line ("GET / HTTP/1.1", "CONNECT host:443 ...").
bool is_http_request(std::string_view line) {
  for (std::string_view verb : {"GET ", "POST ", "CONNECT ", "HEAD ", "PUT ", "OPTIONS "}) {
    if (line.substr(0, verb.size()) == verb) return true;
  }
  return false;
}

// The names a Delivered-To: field of these local recipients' would carry (the address, as
// maildrop_message writes it) and their mailboxes.
std::vector<std::string> delivered_to_names(const std::vector<incoming_recipient>& recipients) {
  std::vector<std::string> names;
  for (const auto& r : recipients) {
    names.push_back(r.address);
    if (!r.mailbox.empty()) names.push_back(r.mailbox);
  }
  return names;
}

// The mark on mail that failed DMARC where the domain asks for quarantine.
constexpr std::string_view quarantine_field = "X-Missive-Quarantine";

bool has_header_field(std::string_view headers, std::string_view name) {
  for (const auto& field : split_header_fields(headers)) {
    if (iequals(field.name, name)) return true;
  }
  return false;
}

// A uniform draw in 0-99, for DMARC's pct= (RFC 7489 6.3).
int dmarc_sample() {
  thread_local std::mt19937 draw{std::random_device{}()};
  return std::uniform_int_distribution<int>(0, 99)(draw);
}

bool valid_helo_argument(std::string_view name) {
  return !name.empty() && name.find(' ') == std::string_view::npos && name.size() <= 255;
}

}  // namespace

smtp_session::smtp_session(asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& peer,
                           server_context& context, listener_role role, std::string id)
    : io_(std::move(socket), peer, context.tls), context_(context), role_(role), id_(std::move(id)) {}

std::string_view smtp_session::state_name(state s) {
  switch (s) {
    case state::connected: return "connected";
    case state::greeted: return "greeted";
    case state::mail: return "mail";
    case state::rcpt: return "rcpt";
    case state::closing: return "closing";
  }
  return "?";
}

void smtp_session::enter_state(state next) {
  if (next == state_) return;
  log::debug(id_, "event=state from={} to={}", state_name(state_), state_name(next));
  state_ = next;
}

void smtp_session::log_refusal(const smtp_reply& answer) const {
  std::string text = answer.text;
  std::replace(text.begin(), text.end(), '\n', ' ');
  // No reverse DNS is looked up: the client's name is "unknown", as Postfix writes it then.
  std::string line = fmt::format("reject: {} from unknown[{}]: {} {}{}{};", refusal_.stage,
                                 io_.peer(), answer.code, answer.enhanced,
                                 answer.enhanced.empty() ? "" : " ", text);
  if (refusal_.from) line += fmt::format(" from=<{}>", *refusal_.from);
  if (refusal_.to) line += fmt::format(" to=<{}>", *refusal_.to);
  if (refusal_.user) line += fmt::format(" sasl_username=<{}>", *refusal_.user);
  line += fmt::format(" proto={} helo=<{}>", extended_ ? "ESMTP" : "SMTP", helo_name_);
  log::info(id_, "{}", line);
}

void smtp_session::reply(const smtp_reply& r) {
  std::string wire;
  append_reply(wire, r);
  io_.write(wire);
}

void smtp_session::stop() {
  stopping_ = true;
  // A commit under way is not interrupted: its client must learn it got through. The
  // command loop ends after that reply goes out.
  if (!storing_) io_.set_timeout(std::chrono::steady_clock::duration::zero());
}

asio::awaitable<void> smtp_session::run() {
  log::info(id_, "event=connect client=[{}] service={}", io_.peer(), role_.name());
  try {
    bool ready = true;
    if (role_.implicit_tls) ready = co_await switch_to_tls();  // RFC 8314 3.3
    if (ready) co_await serve();
    if (stopping_) {
      end_reason_ = "shutdown";
      reply(replies::shutting_down(context_.config.hostname));
      io_.flush_now();
    } else if (io_.timed_out()) {
      end_reason_ = "timeout";
      reply(replies::timed_out(context_.config.hostname));
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

asio::awaitable<bool> smtp_session::client_waited_for_greeting() {
  auto delay = context_.config.smtp.greeting_delay;
  // With implicit TLS the client speaks first by design (the handshake). Trusted networks
  // are our own hosts, greeted at once: the pause is for strangers.
  if (role_.implicit_tls || delay.count() == 0 || client_is_trusted()) co_return true;
  asio::steady_timer pause(co_await asio::this_coro::executor, delay);
  std::error_code ec;
  co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !io_.input_pending();
}

asio::awaitable<void> smtp_session::serve() {
  const auto& settings = context_.config.smtp;
  bool polite = co_await client_waited_for_greeting();
  if (!polite) {
    // RFC 5321 4.3.1: the client waits for the greeting; one that does not is a spam engine.
    end_reason_ = "talked_before_greeting";
    reply(replies::talked_first);
    co_await io_.flush();
    co_return;
  }
  reply(replies::greeting(context_.config.hostname));
  std::string line;
  std::size_t errors_in_a_row = 0;
  while (state_ != state::closing) {
    if (stopping_) {
      co_await io_.flush();  // the last reply (a 250 for a committed message) goes out first
      co_return;
    }
    if (!io_.line_buffered() && !co_await io_.flush()) co_return;
    io_.set_timeout(settings.command_timeout);
    auto status = co_await io_.read_line(line, limits::smtp_command_line);
    if (status == connection_io::read_status::closed) {
      end_reason_ = "closed";
      co_return;
    }
    smtp_reply answer;
    refusal_ = {};
    if (state_ == state::mail || state_ == state::rcpt) refusal_.from = transaction_.sender.str();
    if (status == connection_io::read_status::too_long) {
      answer = replies::line_too_long;
    } else if (has_control_characters(line)) {
      answer = replies::bad_characters;
    } else if (is_http_request(line)) {
      // A web client or proxy probe (cross-protocol attack): answer once and hang up.
      end_reason_ = "http_request";
      reply(replies::http_request);
      co_await io_.flush();
      co_return;
    } else {
      // Named, not a temporary: GCC 12 mishandles temporaries bound to references in co_await.
      smtp_command command = parse_smtp_command(line);
      refusal_.stage = smtp_verb_name(command.verb);
      answer = co_await dispatch(command);
      if (answer.code == connection_lost.code) {
        end_reason_ = "closed_in_data";
        co_return;
      }
    }
    if (answer.code >= 400) {
      log_refusal(answer);
      metrics::relay().message_refused(refusal_.stage, answer.code, answer.enhanced);
    }
    reply(answer);
    errors_in_a_row = is_protocol_error(answer.code) ? errors_in_a_row + 1 : 0;
    if (errors_in_a_row >= max_protocol_errors) {
      end_reason_ = "too_many_errors";
      reply(replies::too_many_errors(context_.config.hostname));
      co_await io_.flush();
      co_return;
    }
    if (tls_requested_) {
      tls_requested_ = false;
      bool sent = co_await io_.flush();
      if (!sent) co_return;
      bool secured = co_await switch_to_tls();
      if (!secured) co_return;
    }
  }
  co_await io_.flush();
  end_reason_ = "quit";
}

asio::awaitable<smtp_reply> smtp_session::dispatch(const smtp_command& command) {
  switch (command.verb) {
    case smtp_verb::helo: co_return on_helo(command, false);
    case smtp_verb::ehlo: co_return on_helo(command, true);
    case smtp_verb::mail: {
      smtp_reply answer = on_mail(command);
      if (answer.code == 250) answer = co_await check_sender(answer);
      co_return answer;
    }
    case smtp_verb::rcpt: co_return co_await on_rcpt(command);
    case smtp_verb::data: co_return co_await on_data(command);
    case smtp_verb::rset: co_return on_rset(command);
    case smtp_verb::noop: co_return replies::ok;
    case smtp_verb::quit:
      enter_state(state::closing);
      co_return replies::bye;
    case smtp_verb::vrfy:
      if (command.argument.empty()) co_return replies::syntax("VRFY address");
      co_return replies::cannot_verify;
    case smtp_verb::help:
      co_return replies::help;
    case smtp_verb::starttls: co_return on_starttls(command);
    case smtp_verb::auth: co_return co_await on_auth(command);
    case smtp_verb::bdat: co_return co_await on_bdat(command);
    case smtp_verb::expn: co_return replies::not_implemented;
    case smtp_verb::unknown: break;
  }
  co_return replies::unknown_command;
}

smtp_reply smtp_session::on_helo(const smtp_command& command, bool extended) {
  if (!valid_helo_argument(command.argument)) {
    return replies::syntax(extended ? "EHLO hostname" : "HELO hostname");
  }
  helo_name_ = std::string(command.argument);
  extended_ = extended;
  // RFC 5321 4.1.4: EHLO/HELO in the middle of a transaction resets it.
  transaction_ = {};
  enter_state(state::greeted);
  std::string text = fmt::format("{} Hello {} [{}]", context_.config.hostname, helo_name_, io_.peer());
  if (extended) {
    // No BINARYMIME (RFC 3030 3): stored mail is relayed over DATA to next hops without
    // CHUNKING and read over POP3, both of which need CRLF text.
    text += fmt::format(
        "\nPIPELINING\nSIZE {}\n8BITMIME\nENHANCEDSTATUSCODES\nSMTPUTF8\nDSN\nCHUNKING",
        context_.config.smtp.max_message_size);
    if (context_.tls_enabled && !io_.encrypted()) text += "\nSTARTTLS";
    // RFC 4954 4: AUTH is offered only where it may be used (not after success).
    if (auth_allowed() && authenticated_user_.empty()) text += "\nAUTH PLAIN LOGIN";
  }
  return {250, "", text};
}

smtp_reply smtp_session::on_mail(const smtp_command& command) {
  if (state_ == state::connected) return replies::bad_sequence_helo;
  if (state_ != state::greeted) return replies::nested_mail;
  auto args = parse_mail_from(command.argument);
  switch (args.error) {
    case smtp_argument_error::none: break;
    case smtp_argument_error::address: return replies::bad_address(args.address_problem, "5.1.7");
    case smtp_argument_error::unknown_parameter: return replies::unknown_parameter;
    default:
      return replies::syntax(
          "MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8] [RET=FULL|HDRS] [ENVID=xtext]");
  }
  refusal_.from = args.sender.str();
  if (!extended_ && (args.size || args.smtputf8 || args.body != body_type::unspecified ||
                     args.ret != dsn_return::unspecified || args.envid)) {
    return replies::unknown_parameter;  // RFC 5321 4.1.1.2: parameters need EHLO
  }
  // RFC 1870 6: refuse up front what will not fit.
  if (args.size && *args.size > context_.config.smtp.max_message_size) return replies::too_big;
  if (!room_for(args.size.value_or(0))) return replies::storage_full_at_mail;
  if (role_.submission) {
    // RFC 6409 4.3, 6.1: submission is for authenticated users, sending as themselves.
    if (authenticated_user_.empty()) return replies::auth_required;
    if (!iequals(args.sender.str(), authenticated_user_)) {
      return replies::sender_not_owned(args.sender.str(), authenticated_user_);
    }
  }
  transaction_ = {};
  transaction_.sender = std::move(args.sender);
  transaction_.smtputf8 = args.smtputf8;
  transaction_.eight_bit = args.body == body_type::eight_bit_mime;
  transaction_.declared_size = args.size.value_or(0);
  transaction_.ret = args.ret;
  transaction_.envid = args.envid.value_or("");
  transaction_.mail_at = std::chrono::steady_clock::now();
  enter_state(state::mail);
  return replies::ok_sender;
}

bool smtp_session::room_for(std::uint64_t declared_size) const {
  // RFC 1870 6.1: with SIZE, the server may answer 452 at MAIL when it lacks the storage.
  std::uint64_t reserve = context_.config.smtp.min_free_bytes();
  if (reserve == 0) return true;
  auto available = context_.disk_space.available(context_.config.data_dir, reserve + declared_size);
  return !available || (*available >= reserve && *available - reserve >= declared_size);
}

bool smtp_session::client_may_relay() const {
  return !authenticated_user_.empty() || client_is_trusted();
}

bool smtp_session::client_is_trusted() const {
  const auto& networks = context_.config.smtp.trusted_networks;
  return std::any_of(networks.begin(), networks.end(),
                     [&](const ip_network& n) { return n.contains(io_.peer_bytes()); });
}

asio::awaitable<smtp_reply> smtp_session::on_rcpt(const smtp_command& command) {
  if (state_ == state::connected) co_return replies::bad_sequence_helo;
  if (state_ != state::mail && state_ != state::rcpt) co_return replies::bad_sequence_mail;
  auto args = parse_rcpt_to(command.argument, transaction_.smtputf8);
  switch (args.error) {
    case smtp_argument_error::none: break;
    case smtp_argument_error::address: co_return replies::bad_address(args.address_problem, "5.1.3");
    case smtp_argument_error::unknown_parameter: co_return replies::unknown_parameter;
    default:
      co_return replies::syntax(
          "RCPT TO:<address> [NOTIFY=NEVER|SUCCESS,FAILURE,DELAY] [ORCPT=type;xtext]");
  }
  // RFC 5321 4.1.1.3: parameters need EHLO.
  if (!extended_ && (args.notify != 0 || args.orcpt)) co_return replies::unknown_parameter;
  const std::size_t local_before = transaction_.local_recipients.size();
  const std::size_t remote_before = transaction_.remote_recipients.size();
  auto& recipient = args.recipient;
  // RFC 5321 4.1.1.3: <Postmaster> without a domain is the postmaster of this host.
  if (recipient.domain.empty()) recipient.domain = context_.config.domains.front();
  std::string address = recipient.str();
  refusal_.to = address;
  if (transaction_.recipient_count() >= context_.config.smtp.max_recipients) {
    co_return replies::too_many_recipients;  // RFC 5321 4.5.3.1.10
  }
  if (context_.config.is_local_domain(recipient.domain)) {
    auto refused = co_await add_local_recipient(address, recipient.local_part, recipient.domain);
    if (refused) co_return *refused;
  } else {
    if (!client_may_relay()) {
      co_return replies::relay_denied(address);
    }
    add_remote({address, false});
  }
  note_recipient_dsn(args, local_before, remote_before);
  enter_state(state::rcpt);
  co_return replies::ok_recipient;
}

void smtp_session::note_recipient_dsn(const rcpt_to_arguments& args, std::size_t local_before,
                                      std::size_t remote_before) {
  // Every recipient this RCPT led to (an alias may lead to several) carries its NOTIFY= and
  // ORCPT=; one named before keeps the parameters it was first given.
  std::string orcpt = args.orcpt ? args.orcpt->type + ";" + args.orcpt->address : std::string();
  auto note = [&](std::vector<incoming_recipient>& added, std::size_t from) {
    for (std::size_t i = from; i < added.size(); ++i) {
      added[i].notify = args.notify;
      added[i].orcpt = orcpt;
    }
  };
  note(transaction_.local_recipients, local_before);
  note(transaction_.remote_recipients, remote_before);
}

asio::awaitable<smtp_reply> smtp_session::on_data(const smtp_command& command) {
  if (state_ == state::connected) co_return replies::bad_sequence_helo;
  if (state_ == state::greeted) co_return replies::bad_sequence_mail;
  if (state_ != state::rcpt) co_return replies::bad_sequence_rcpt;
  // RFC 3030 2: DATA after BDAT in one transaction is a bad sequence.
  if (transaction_.bdat) co_return replies::data_after_bdat;
  if (command.has_argument) co_return replies::syntax("DATA");
  reply(replies::start_data);
  bool sent = co_await io_.flush();
  if (!sent) co_return connection_lost;

  data_reader reader(context_.config.smtp.max_message_size);
  reader.expect(transaction_.declared_size);
  // The data block timeout applies to each read (RFC 5321 4.5.3.2.5), so a large message on
  // a slow link is not cut off; a stalled one is.
  bool complete = co_await io_.read_data(reader, context_.config.smtp.data_timeout);
  if (!complete) co_return connection_lost;
  enter_state(state::greeted);
  // Refusals from here on are of the message (Postfix's END-OF-MESSAGE), to its recipients.
  refusal_.stage = "END-OF-MESSAGE";
  if (transaction_.recipient_count() > 0) {
    refusal_.to = transaction_.local_recipients.empty()
                      ? transaction_.remote_recipients.front().address
                      : transaction_.local_recipients.front().address;
  }
  smtp_reply result;
  switch (reader.error()) {
    case data_error::none: result = co_await store(reader.message()); break;
    // RFC 5321 4.5.3.1.10: too much mail data.
    case data_error::too_big: result = replies::too_big; break;
    // RFC 5321 4.5.3.1.6: a text line is at most 1000 octets.
    case data_error::line_too_long: result = replies::line_too_long; break;
    case data_error::bare_line_ending:
    case data_error::nul_byte: result = replies::smuggling; break;
  }
  transaction_ = {};
  co_return result;
}

smtp_reply smtp_session::on_rset(const smtp_command& command) {
  if (command.has_argument) return replies::syntax("RSET");
  transaction_ = {};
  if (state_ != state::connected) enter_state(state::greeted);
  return replies::ok;
}

std::string smtp_session::trace_headers(const std::string& queue_id,
                                        const header_summary& summary) const {
  auto now = std::chrono::system_clock::now();
  std::string_view protocol = received_protocol();
  std::string headers = fmt::format("Received: from {} ([{}])\r\n\tby {} (Missive) with {} id {}",
                                    helo_name_, io_.peer(), context_.config.hostname, protocol,
                                    queue_id);
  if (transaction_.recipient_count() == 1) {
    const auto& only = transaction_.local_recipients.empty() ? transaction_.remote_recipients
                                                             : transaction_.local_recipients;
    headers += fmt::format("\r\n\tfor <{}>", only.front().address);
  }
  headers += fmt::format("; {}\r\n", format_rfc5322_date(now));
  // RFC 5321 6.4: a relay may add the Message-ID and Date a submitted message lacks.
  if (!summary.has_message_id) {
    headers += fmt::format("Message-ID: <{}@{}>\r\n", queue_id, context_.config.hostname);
  }
  if (!summary.has_date) headers += fmt::format("Date: {}\r\n", format_rfc5322_date(now));
  // A message that starts with body text gets an empty line, so the text stays body.
  if (!summary.starts_with_header) headers += "\r\n";
  return headers;
}

asio::awaitable<std::string> smtp_session::dkim_signature(const std::string& trace_headers,
                                                          std::string_view data,
                                                          const header_summary& summary) {
  if (context_.dkim_keys.empty()) co_return std::string();
  if (authenticated_user_.empty() && !client_is_trusted()) co_return std::string();
  // The header section is ours (trace_headers, which end with the empty line when the
  // message came without a header) followed by the sender's; the body is hashed in place.
  std::string_view theirs = summary.starts_with_header ? header_section(data) : std::string_view();
  std::string headers = trace_headers;
  headers.append(theirs);
  std::string domain;
  for (const auto& field : split_header_fields(headers)) {
    if (iequals(field.name, "from")) {
      domain = from_domain(field.text);
      break;
    }
  }
  const dkim_key* key = nullptr;
  for (const auto& candidate : context_.dkim_keys) {
    if (candidate.settings().domain == domain) {
      key = &candidate;
      break;
    }
  }
  if (key == nullptr) co_return std::string();
  // On the pool: an Ed25519 signature costs about as much CPU as accepting the message does
  // (bench/authentication_cost.py). `headers` and `data` outlive the wait in this frame.
  std::string_view body = data.substr(theirs.size());
  auto now = std::chrono::system_clock::now();
  auto sign = [key, &headers, body, now]() -> std::pair<std::string, std::string> {
    try {
      return {key->sign(headers, body, now), std::string()};
    } catch (const std::exception& e) {
      return {std::string(), e.what()};
    }
  };
  auto [signature, error] = co_await offload(context_.message_work, std::move(sign));
  // Unsigned mail still goes: a receiver weighs it, a lost message is worse.
  if (!error.empty()) log::error(id_, "event=dkim_failed domain={} reason=\"{}\"", domain, error);
  co_return signature;
}

bool smtp_session::client_is_checked() const {
  return context_.config.checks.any() && authenticated_user_.empty() && !client_is_trusted();
}

asio::awaitable<smtp_reply> smtp_session::check_sender(smtp_reply accepted) {
  const auto& checks = context_.config.checks;
  // DMARC needs the SPF result even when SPF itself is not reported on.
  if (!client_is_checked() || (checks.spf == "off" && checks.dmarc == "off")) co_return accepted;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  auto& findings = transaction_.findings;
  const std::string& us = context_.config.hostname;
  // RFC 7208 2.3: HELO always; 2.4: MAIL FROM unless null, which is postmaster@HELO then.
  findings.helo = helo_name_;
  spf_identity helo = helo_identity(io_.peer_bytes(), helo_name_, us, now);
  findings.spf_helo = co_await check_spf(context_.dns, helo);
  const spf_result* decisive = &*findings.spf_helo;
  std::string sender = transaction_.sender.str();
  if (!sender.empty()) {
    spf_identity mail_from = mail_from_identity(io_.peer_bytes(), sender, helo_name_, us, now);
    findings.mail_from = mail_from.domain;
    findings.spf_mail_from = co_await check_spf(context_.dns, mail_from);
    decisive = &*findings.spf_mail_from;
  }
  log::info(id_, "event=spf identity={} result={} reason=\"{}\"", sender.empty() ? "helo" : "mailfrom",
            result_name(decisive->outcome), decisive->reason);
  if (checks.spf != "off") metrics::relay().authentication_result("spf", result_name(decisive->outcome));
  if (checks.spf == "enforce") {
    std::optional<smtp_reply> refusal;
    if (decisive->outcome == spf_result::kind::fail) refusal = replies::spf_failed(decisive->explanation);
    else if (decisive->outcome == spf_result::kind::temperror) refusal = replies::spf_unavailable;
    if (refusal) {
      transaction_ = {};
      enter_state(state::greeted);
      co_return *refusal;
    }
  }
  co_return accepted;
}

asio::awaitable<std::optional<smtp_reply>> smtp_session::check_authentication(
    std::string& data, const header_summary& summary, std::string& added) {
  if (!client_is_checked()) co_return std::nullopt;
  const auto& checks = context_.config.checks;
  const std::string& us = context_.config.hostname;
  // RFC 8601 5: results that claim to be ours are not, coming from outside; nor is our mark.
  if (summary.starts_with_header && has_results_of(header_section(data), us)) {
    data = without_results_of(data, us);
  }
  if (summary.starts_with_header && checks.dmarc != "off" &&
      has_header_field(header_section(data), quarantine_field)) {
    data = remove_header_fields(data, quarantine_field);
  }
  std::string_view headers = summary.starts_with_header ? header_section(data) : std::string_view();
  auto& findings = transaction_.findings;
  if (checks.spf == "off") {  // checked for DMARC only: not reported
    findings.spf_helo.reset();
    findings.spf_mail_from.reset();
  }
  std::optional<spf_result> spf = transaction_.findings.spf_mail_from;
  std::string spf_domain = findings.mail_from;
  if (!spf) {
    spf = transaction_.findings.spf_helo;
    spf_domain = findings.helo;
  }
  if (checks.dkim != "off" || checks.dmarc != "off") {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    findings.dkim = co_await verify_dkim(context_.dns, headers, std::string_view(data).substr(headers.size()),
                                         now, &context_.message_work);
    if (findings.dkim->empty()) metrics::relay().authentication_result("dkim", "none");
    for (const auto& r : *findings.dkim) metrics::relay().authentication_result("dkim", result_name(r.outcome));
  }
  if (checks.dmarc != "off") {
    dmarc_evidence evidence;
    for (const auto& field : split_header_fields(headers)) {
      if (iequals(field.name, "from")) evidence.from_domains.push_back(from_domain(field.text));
    }
    evidence.spf = spf ? spf->outcome : spf_result::kind::none;
    evidence.spf_domain = spf_domain;
    evidence.dkim = *findings.dkim;
    evidence.sample = dmarc_sample();
    findings.dmarc = co_await check_dmarc(context_.dns, evidence);
    log::info(id_, "event=dmarc from={} result={} disposition={}", findings.dmarc->from_domain,
              result_name(findings.dmarc->outcome), policy_name(findings.dmarc->disposition));
    metrics::relay().authentication_result("dmarc", result_name(findings.dmarc->outcome));
  }
  added = authentication_results(us, findings);
  if (checks.dmarc == "enforce" && findings.dmarc) {
    const dmarc_result& dmarc = *findings.dmarc;
    if (dmarc.outcome == dmarc_result::kind::temperror) co_return replies::dmarc_unavailable;
    if (dmarc.outcome == dmarc_result::kind::fail) {
      if (dmarc.disposition == dmarc_policy::reject) co_return replies::dmarc_rejected(dmarc.from_domain);
      // A POP3 maildrop has no junk folder: the mark is for the reader's filters.
      if (dmarc.disposition == dmarc_policy::quarantine) added += fmt::format("{}: dmarc\r\n", quarantine_field);
    }
  }
  co_return std::nullopt;
}

asio::awaitable<smtp_reply> smtp_session::store(std::string& data) {
  header_summary summary = scan_headers(data);
  // RFC 5321 6.3: a message that has passed through this many relays is looping.
  if (summary.received_count > limits::max_received_headers) co_return replies::too_many_hops;
  // RFC 9228 4: a Delivered-To: naming one of this message's mailboxes means it was delivered
  // there before and came back. Refused whole, at once: no mailbox gets a second copy and no
  // bounce is needed, the sending relay reports it.
  if (auto looped = delivered_before(summary, delivered_to_names(transaction_.local_recipients))) {
    co_return replies::forwarding_loop(*looped);
  }
  // RFC 5321 4.4: Return-Path: is final delivery's to add, from the envelope. One the sender
  // wrote would say something else to the reader below ours, so it goes, for mailboxes and
  // next hops alike.
  if (summary.has_return_path) data = remove_header_fields(data, "Return-Path");
  std::string results;
  std::optional<smtp_reply> refusal = co_await check_authentication(data, summary, results);
  if (refusal) co_return *refusal;
  incoming_message message;
  message.queue_id = make_queue_id();
  message.sender = transaction_.sender.str();
  message.client = fmt::format("{} [{}]", helo_name_, io_.peer());
  message.trace_headers = trace_headers(message.queue_id, summary);
  // Signed over what is stored (the Message-ID and Date added above included), before it is.
  std::string signature = co_await dkim_signature(message.trace_headers, data, summary);
  message.trace_headers.insert(0, signature);
  message.trace_headers.insert(0, results);  // RFC 8601 5: at the top
  message.body = std::move(data);  // no copy of what may be 25 MiB
  message.recipients = transaction_.local_recipients;
  message.recipients.insert(message.recipients.end(), transaction_.remote_recipients.begin(),
                            transaction_.remote_recipients.end());
  message.ret = transaction_.ret;
  message.envid = transaction_.envid;
  std::size_t size = message.trace_headers.size() + message.body.size();
  std::size_t count = message.recipients.size();
  std::string queue_id = message.queue_id;
  bool stored = false, disk_full = false;
  std::vector<delivery_outcome> delivered;
  storing_ = true;
  try {
    delivered = co_await context_.store.store_message(std::move(message));
    stored = true;
  } catch (const store_error& e) {
    log::error(id_, "event=store_failed reason=\"{}\"", e.what());
    disk_full = e.why() == store_error::kind::full;
  } catch (const std::exception& e) {
    log::error(id_, "event=store_failed reason=\"{}\"", e.what());
  }
  storing_ = false;
  if (stopping_) io_.set_timeout(std::chrono::seconds(5));  // to send this reply, no longer
  if (!stored) co_return disk_full ? replies::storage_full_at_data : replies::storage_failed;
  metrics::relay().message_accepted(service_of(role_),
                                    std::chrono::steady_clock::now() - transaction_.mail_at);
  log::info(queue_id, "from=<{}>, size={}, nrcpt={}, client={} [{}]", transaction_.sender.str(),
            size, count, helo_name_, io_.peer());
  log_outcomes(delivered);
  if (delivered.size() < count) context_.scheduler.notify();  // the rest is the scheduler's
  co_return replies::queued(queue_id);
}

}  // namespace missive
