// missive: the Missive mail client. Sends over SMTP, polls POP3 into a local store, reads
// offline. Exit statuses follow sysexits (exit_codes.hpp).
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "client_config.hpp"
#include "client_error.hpp"
#include "commands.hpp"
#include "db.hpp"
#include "duration.hpp"
#include "exit_codes.hpp"
#include "migration.hpp"

namespace {

using namespace missive;
using namespace missive::client;

// Options that take a value, so that "sendmail" is found past them.
bool takes_value(std::string_view arg) {
  return arg == "--config" || arg == "--server" || arg == "--smtp-port" || arg == "--pop3-port" ||
         arg == "--user" || arg == "--data-dir";
}

// Where "sendmail" is among the arguments (0 when it is not the subcommand).
std::size_t sendmail_position(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (takes_value(arg)) {
      ++i;
      continue;
    }
    if (arg.starts_with("-")) continue;
    return arg == "sendmail" ? static_cast<std::size_t>(i) : 0;
  }
  return 0;
}

// `missive sendmail ...`, or the program run under the name "sendmail".
int sendmail_main(int argc, char** argv, std::size_t position) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (static_cast<std::size_t>(i) == position) continue;
    std::string arg = argv[i];
    auto equals = arg.find('=');
    if (arg.starts_with("--") && equals != std::string::npos && takes_value(arg.substr(0, equals))) {
      args.push_back(arg.substr(0, equals));
      args.push_back(arg.substr(equals + 1));
    } else {
      args.push_back(std::move(arg));
    }
  }
  config_overrides overrides;
  auto options = parse_sendmail_arguments(args, overrides);
  if (options.help) {
    std::cout << sendmail_usage(position == 0 ? "sendmail" : "missive sendmail");
    return exit_code::ok;
  }
  return run_sendmail(load_client_config(overrides), options);
}

int cli_main(int argc, char** argv) {
  std::string program = std::filesystem::path(argv[0]).filename().string();
  if (program == "sendmail") return sendmail_main(argc, argv, 0);
  if (auto position = sendmail_position(argc, argv)) return sendmail_main(argc, argv, position);

  CLI::App app{"missive: send mail, and read your mailbox at your own pace"};
  app.fallthrough();
  app.require_subcommand(1);
  app.footer(
      "Configuration file (TOML, ~/.config/missive/config.toml or --config):\n"
      "  server, smtp_port, pop3_port, user, password_command, data_dir\n"
      "  tls        = \"starttls\" (default: STARTTLS/STLS when the server offers it)\n"
      "             | \"required\" (never send or fetch without TLS: exit 69 when not offered)\n"
      "             | \"none\"     (never)\n"
      "  tls_verify = \"peer\" (default: trusted certificate naming the server) | \"none\"\n"
      "  ca_file    = PEM file of trusted certificates (default: the system's), relative to\n"
      "               the configuration file\n"
      "  tls_server_name = the name the certificate must carry, also sent as SNI (default:\n"
      "               server); for a server given as an address whose certificate has a name\n"
      "The password comes from MISSIVE_PASSWORD or password_command, never from a flag.");
  config_overrides overrides;
  app.add_option("--config", overrides.config_file, "TOML configuration file");
  app.add_option("--server", overrides.server, "mail server host");
  app.add_option("--smtp-port", overrides.smtp_port, "SMTP port")->check(CLI::Range(1, 65535));
  app.add_option("--pop3-port", overrides.pop3_port, "POP3 port")->check(CLI::Range(1, 65535));
  app.add_option("--user", overrides.user, "login address");
  app.add_option("--data-dir", overrides.data_dir, "local store folder");

  send_options send;
  auto* send_cmd = app.add_subcommand("send", "compose a message (body on stdin) and send it");
  send_cmd->add_option("--from", send.from, "sender address")->required();
  send_cmd->add_option("--to", send.to, "recipient (repeatable)");
  send_cmd->add_option("--cc", send.cc, "copy recipient (repeatable)");
  send_cmd->add_option("--bcc", send.bcc, "blind copy recipient (repeatable)");
  send_cmd->add_option("--subject", send.subject, "subject");
  send_cmd->add_option("--attach", send.attach, "file to attach (repeatable)");
  send_cmd->add_flag("--no-queue", send.no_queue,
                     "when the server is away or answers 4xx, exit 75 instead of queueing");
  app.add_subcommand("sendmail", "sendmail-compatible: [-t] [-i] [-f SENDER] [--no-queue] [RECIPIENT...]");

  bool delete_fetched = false;
  auto* fetch_cmd = app.add_subcommand("fetch", "poll the server once");
  fetch_cmd->add_flag("--delete", delete_fetched, "delete fetched messages from the server");
  inbox_options inbox;
  auto* inbox_cmd = app.add_subcommand("inbox", "list messages (fetches first)");
  inbox_cmd->add_flag("--offline", inbox.offline, "only the local store");
  inbox_cmd->add_flag("--threads", inbox.threads, "grouped into conversations, newest first");
  inbox_cmd->add_flag("--json", inbox.json, "one JSON document");
  search_options search;
  auto* search_cmd = app.add_subcommand(
      "search", "find messages in the local store (words, \"phrases\", from: to: subject:)");
  search_cmd->add_option("query", search.query, "what to look for")->required();
  search_cmd->add_flag("--offline", search.offline, "do not poll the server first");
  search_cmd->add_flag("--json", search.json, "one JSON document");
  std::int64_t id = 0;
  bool raw = false;
  std::string save_dir;
  auto* read_cmd = app.add_subcommand("read", "show a message");
  read_cmd->add_option("id", id, "message id")->required();
  read_cmd->add_flag("--raw", raw, "the message exactly as stored");
  read_cmd->add_option("--save", save_dir, "save the attachments in this folder (never overwrites)");
  reply_options reply;
  auto* reply_cmd = app.add_subcommand("reply", "reply to a message (body on stdin)");
  reply_cmd->add_option("id", reply.id, "message id")->required();
  reply_cmd->add_flag("--all", reply.all, "also to the other recipients");
  reply_cmd->add_flag("--quote", reply.quote, "quote the original's text");
  reply_cmd->add_option("--from", reply.from, "sender address (default: the configured user)");
  reply_cmd->add_flag("--no-queue", reply.no_queue, "exit 75 instead of queueing in the outbox");
  forward_options forward;
  auto* forward_cmd = app.add_subcommand("forward", "forward a message as an attachment (body on stdin)");
  forward_cmd->add_option("id", forward.id, "message id")->required();
  forward_cmd->add_option("--to", forward.to, "recipient (repeatable)")->required();
  forward_cmd->add_option("--from", forward.from, "sender address (default: the configured user)");
  forward_cmd->add_flag("--no-queue", forward.no_queue, "exit 75 instead of queueing in the outbox");
  auto* delete_cmd = app.add_subcommand("delete", "delete a message (on the server at the next poll)");
  delete_cmd->add_option("id", id, "message id")->required();
  bool json = false;
  auto* outbox_cmd = app.add_subcommand("outbox", "list the messages waiting for the server");
  outbox_cmd->add_flag("--json", json, "one JSON document");
  std::int64_t outbox_id = 0;
  auto* outbox_delete_cmd = outbox_cmd->add_subcommand("delete", "drop a message from the outbox");
  outbox_delete_cmd->add_option("id", outbox_id, "outbox message id")->required();
  auto* flush_cmd = app.add_subcommand("flush", "send every message in the outbox now");
  std::string every = "30s";
  auto* watch_cmd = app.add_subcommand("watch", "poll repeatedly, print new messages, flush the outbox");
  watch_cmd->add_option("--every", every, "pause between polls, e.g. 30s, 5m");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return status == 0 ? exit_code::ok : exit_code::usage;
  }
  std::chrono::seconds pace{30};
  if (watch_cmd->parsed()) {
    auto parsed = parse_duration(every);
    if (!parsed || parsed->count() == 0) {
      std::cerr << "missive: --every: expected a duration such as 30s, 5m or 1h\n";
      return exit_code::usage;
    }
    pace = *parsed;
  }
  client_config config = load_client_config(overrides);
  if (send_cmd->parsed()) return run_send(config, send);
  if (fetch_cmd->parsed()) return run_fetch(config, delete_fetched);
  if (inbox_cmd->parsed()) return run_inbox(config, inbox);
  if (search_cmd->parsed()) return run_search(config, search);
  if (read_cmd->parsed()) return run_read(config, id, raw, save_dir);
  if (reply_cmd->parsed()) return run_reply(config, reply);
  if (forward_cmd->parsed()) return run_forward(config, forward);
  if (delete_cmd->parsed()) return run_delete(config, id);
  if (watch_cmd->parsed()) return run_watch(config, pace);
  if (outbox_delete_cmd->parsed()) return run_outbox_delete(config, outbox_id);
  if (outbox_cmd->parsed()) return run_outbox(config, json);
  if (flush_cmd->parsed()) return run_flush(config);
  return exit_code::usage;
}

}  // namespace

int main(int argc, char** argv) {
  // The local store holds private mail: files and folders for the owner only.
  ::umask(077);
  try {
    return cli_main(argc, argv);
  } catch (const client_error& e) {
    std::cerr << "missive: " << e.what() << "\n";
    return e.exit_status();
  } catch (const db::schema_too_new& e) {
    std::cerr << "missive: the local store was written by a newer missive: " << e.what() << "\n";
    return exit_code::config;
  } catch (const db::error& e) {
    std::cerr << "missive: the local store cannot be used: " << e.what() << "\n";
    return exit_code::software;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "missive: cannot create the data directory " << e.path1().string() << ": "
              << e.code().message() << "\n";
    return exit_code::os_error;
  } catch (const std::exception& e) {
    std::cerr << "missive: internal error: " << e.what() << "\n";
    return exit_code::software;
  }
}
