// `missive sendmail`: the /usr/sbin/sendmail interface (as Postfix and msmtp implement it),
// so cron, git send-email and mutt can submit through Missive unchanged.
#include <fmt/format.h>

#include <cstdlib>
#include <iostream>

#include "ascii.hpp"
#include "client_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "mail_address.hpp"
#include "message_headers.hpp"
#include "mime_encoding.hpp"
#include "mime_parse.hpp"
#include "hand_over.hpp"

namespace missive::client {

namespace {

[[noreturn]] void usage(const std::string& what) {
  throw client_error(exit_code::usage, "sendmail: " + what);
}

// Without -i, a line of a single "." ends the message (sendmail's default).
std::string cut_at_dot_line(const std::string& input) {
  std::size_t pos = 0;
  while (pos < input.size()) {
    auto newline = input.find('\n', pos);
    std::size_t end = newline == std::string::npos ? input.size() : newline;
    std::string_view line(input.data() + pos, end - pos);
    if (line == "." || line == ".\r") return input.substr(0, pos);
    if (newline == std::string::npos) break;
    pos = newline + 1;
  }
  return input;
}

// Checks an address; client_error 65 when it is not one.
std::string checked(const std::string& address, std::string_view where) {
  auto parsed = parse_address(address);
  if (address.empty() || parsed.error != address_error::none || parsed.consumed != address.size()) {
    throw client_error(exit_code::data_error, fmt::format("{} '{}' is not a valid mail address", where, address));
  }
  return address;
}

// The sender when -f is not given: the configured user, else $USER@hostname.
std::string default_sender(const client_config& config) {
  if (!config.user.empty() && config.user.find('@') != std::string::npos) return config.user;
  const char* user = std::getenv("USER");
  if (!user || !*user) user = std::getenv("LOGNAME");
  return fmt::format("{}@{}", user && *user ? user : "nobody", host_name());
}

}  // namespace

sendmail_options parse_sendmail_arguments(const std::vector<std::string>& args,
                                          config_overrides& overrides) {
  sendmail_options options;
  auto value = [&](std::size_t& i, const std::string& flag) -> std::string {
    if (i + 1 >= args.size()) usage(flag + " needs a value");
    return args[++i];
  };
  bool only_recipients = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (only_recipients || arg.empty() || arg[0] != '-') {
      options.recipients.push_back(arg);
      continue;
    }
    if (arg == "--help") {
      options.help = true;  // the rest does not matter: nothing is read or sent
      return options;
    }
    if (arg == "--") only_recipients = true;
    else if (arg == "--no-queue") options.no_queue = true;
    else if (arg == "-t") options.extract_recipients = true;
    else if (arg == "-i" || arg == "-oi") options.ignore_dots = true;
    else if (arg == "-f" || arg == "-r") options.sender = value(i, arg);
    else if (arg.starts_with("-f") || arg.starts_with("-r")) options.sender = arg.substr(2);
    else if (arg == "-F" || arg == "-B" || arg == "-N" || arg == "-R" || arg == "-V" || arg == "-O")
      value(i, arg);  // full name, body type, DSN options: accepted and ignored, as msmtp does
    else if (arg.starts_with("-F") || arg.starts_with("-B") || arg.starts_with("-N") ||
             arg.starts_with("-R") || arg.starts_with("-V") || arg.starts_with("-o") ||
             arg == "-bm" || arg == "-em" || arg == "-v" || arg == "-U")
      continue;  // -oem, -odi, -bm ...: the defaults we always have
    else if (arg == "--config") overrides.config_file = value(i, arg);
    else if (arg == "--server") overrides.server = value(i, arg);
    else if (arg == "--user") overrides.user = value(i, arg);
    else if (arg == "--data-dir") overrides.data_dir = value(i, arg);
    else if (arg == "--smtp-port" || arg == "--pop3-port") {
      std::string text = value(i, arg);
      char* end = nullptr;
      long port = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || port < 1 || port > 65535) usage(arg + " needs a port number");
      (arg == "--smtp-port" ? overrides.smtp_port : overrides.pop3_port) = static_cast<std::uint16_t>(port);
    } else usage("unknown option " + arg);
  }
  return options;
}

std::string sendmail_usage(const std::string& program) {
  return fmt::format(
      "usage: {} [-t] [-i] [-f SENDER] [--no-queue] [--config FILE] [--server HOST] [--smtp-port PORT]\n"
      "       [--user ADDR] [--] [RECIPIENT...]   < RFC 5322 message\n"
      "Submits the message on stdin, as /usr/sbin/sendmail does.\n"
      "  -t          also send to the To, Cc and Bcc fields' addresses (Bcc is removed)\n"
      "  -i, -oi     a line of a single \".\" does not end the message\n"
      "  -f SENDER   the envelope sender (default: the configured user, else $USER@host)\n"
      "  -F, -B, -N, -R, -V, -O, -o..., -bm, -em, -v, -U: accepted and ignored\n"
      "  --no-queue  when the server is away or answers 4xx, exit 75 instead of queueing\n"
      "All or nothing: when the server refuses any recipient, nothing is sent.\n"
      "When the server is away or answers 4xx, the message waits in the outbox (`missive\n"
      "outbox`, `missive flush`) and the exit status is 0: the message is safe.\n"
      "Exit status: 0 sent or queued, 64 usage, 65 message or sender refused,\n"
      "67 a recipient refused, 69 TLS not to be had as configured, 75 server away or 4xx\n"
      "with --no-queue, 77 bad credentials, 78 bad configuration.\n",
      program);
}

int run_sendmail(const client_config& config, const sendmail_options& options) {
  std::string input = read_stdin();
  if (!options.ignore_dots) input = cut_at_dot_line(input);
  std::string message = mime::to_crlf(input);
  // The header section without its ending empty line, and the body.
  std::string head(header_section(message));
  std::string body;
  if (head.ends_with("\r\n\r\n")) {
    body = message.substr(head.size());
    head.resize(head.size() - 2);
  } else if (head == message && scan_headers(message).starts_with_header) {
    if (!head.ends_with("\r\n")) head += "\r\n";  // all header, no body
  } else {
    // No header at all: the whole input is body text.
    body = message.starts_with("\r\n") ? message.substr(2) : message;
    head.clear();
  }

  std::vector<std::string> recipients;
  for (const auto& r : options.recipients) {
    for (const auto& address : mime::parse_address_list(r)) recipients.push_back(checked(address, "recipient"));
  }
  // The Bcc field never leaves the machine (RFC 5322 3.6.3); with -t its addresses are
  // recipients like To and Cc.
  std::vector<std::string> bcc_values;
  head = remove_header_fields(head, "Bcc", &bcc_values);
  if (options.extract_recipients) {
    auto fields = mime::parse_header_fields(head + "\r\n");
    for (const auto& field : fields) {
      if (iequals(field.name, "To") || iequals(field.name, "Cc")) {
        for (const auto& a : mime::parse_address_list(field.value)) recipients.push_back(checked(a, field.name));
      }
    }
    for (const auto& value : bcc_values) {
      for (const auto& a : mime::parse_address_list(value)) recipients.push_back(checked(a, "Bcc"));
    }
  }
  if (recipients.empty()) {
    throw client_error(exit_code::usage, "sendmail: no recipients (give them as arguments or use -t)");
  }
  std::string sender = options.sender.empty() ? default_sender(config) : options.sender;
  if (sender != "<>" && !sender.empty()) checked(sender, "sender");
  if (sender == "<>") sender.clear();

  // What a submission server adds when missing (RFC 6409 8): From, Date, Message-ID.
  auto fields = mime::parse_header_fields(head + "\r\n");
  if (!mime::find_field(fields, "From")) head += "From: " + (sender.empty() ? default_sender(config) : sender) + "\r\n";
  if (!mime::find_field(fields, "Date")) head += "Date: " + format_rfc5322_date(std::chrono::system_clock::now()) + "\r\n";
  if (!mime::find_field(fields, "Message-ID")) {
    auto at = sender.rfind('@');
    head += "Message-ID: <" + make_message_id(at == std::string::npos ? host_name() : sender.substr(at + 1)) + ">\r\n";
  }
  submission envelope{sender, recipients, head + "\r\n" + body};
  hand_over(config, envelope, options.no_queue);
  return exit_code::ok;
}

}  // namespace missive::client
