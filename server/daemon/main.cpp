// missived: the Missive relay. `missived [serve]` runs it; `missived user ...` administers it.
#include <malloc.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <system_error>

#include "admin_aliases.hpp"
#include "admin_dkim.hpp"
#include "admin_queue.hpp"
#include "admin_srs.hpp"
#include "admin_store.hpp"
#include "admin_users.hpp"
#include "config_check.hpp"
#include "data_directory.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "mail_address.hpp"
#include "relay_server.hpp"
#include "server_config.hpp"
#include "store_error.hpp"
#include "tls.hpp"

namespace {

using namespace missive;

// The command-line flags that override the configuration file.
struct overrides {
  std::string config_file;
  std::string data_dir;
  std::vector<std::string> smtp;
  std::vector<std::string> submission;
  std::vector<std::string> pop3;
  std::vector<std::string> domains;
  std::string hostname;
  bool verbose = false;
};

server_config build_config(const overrides& flags) {
  server_config config = flags.config_file.empty() ? default_server_config()
                                                   : load_server_config(flags.config_file);
  auto endpoints = [](const std::vector<std::string>& texts, std::string_view flag) {
    std::vector<endpoint> out;
    for (const auto& text : texts) out.push_back(parse_endpoint(text, flag));
    return out;
  };
  if (!flags.data_dir.empty()) config.data_dir = flags.data_dir;
  if (!flags.smtp.empty()) config.smtp.listen = endpoints(flags.smtp, "--smtp");
  if (!flags.submission.empty()) config.smtp.submission = endpoints(flags.submission, "--submission");
  if (!flags.pop3.empty()) config.pop3.listen = endpoints(flags.pop3, "--pop3");
  if (!flags.domains.empty()) {
    config.domains.clear();
    for (const auto& domain : flags.domains) config.domains.push_back(lowercase_ascii(domain));
  }
  if (!flags.hostname.empty()) config.hostname = flags.hostname;
  return config;
}

// What `missived tls selfsigned` was asked for.
struct selfsigned_command {
  std::string cert_file;
  std::string key_file;
  std::vector<std::string> hosts;
  int days = 365;
};

// `missived tls selfsigned`. The data directory is made only when a file goes there by
// default: given --cert and --key, the command writes those two files and nothing else.
int run_selfsigned(const server_config& config, const selfsigned_command& command) {
  if (command.cert_file.empty() || command.key_file.empty()) prepare_data_directory(config.data_dir);
  const std::filesystem::path cert = command.cert_file.empty() ? config.data_dir / "cert.pem"
                                                               : std::filesystem::path(command.cert_file);
  const std::filesystem::path key = command.key_file.empty() ? config.data_dir / "key.pem"
                                                             : std::filesystem::path(command.key_file);
  write_self_signed(cert, key, command.hosts.empty() ? std::vector{config.hostname} : command.hosts,
                    command.days);
  std::cout << fmt::format("wrote {} and {}; in the config:\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                           cert.string(), key.string(), cert.string(), key.string());
  return exit_code::ok;
}

// `missived check`: the configuration as the relay would load it at start, and what it
// refers to, without opening the store or binding anything.
int run_check(const server_config& config) {
  require_usable_config(config);
  std::cout << fmt::format("missived: configuration ok: {}\n",
                           config.source.file.empty() ? "built-in defaults" : config.source.file);
  return exit_code::ok;
}

}  // namespace

int main(int argc, char** argv) {
  // Everything missived creates (database, WAL, data directory) is its owner's alone.
  ::umask(077);
  // glibc gives memory back to the kernel (madvise) as soon as a thread's heap has 128 KiB
  // free at the top, and takes it back with page faults a moment later: under load that
  // was ~1 madvise per message. Keep up to 16 MiB free per arena instead.
  ::mallopt(M_TRIM_THRESHOLD, 16 << 20);
  // Setting the trim threshold freezes glibc's mmap threshold at 128 KiB (it no longer adapts),
  // so every larger block (a 1 MiB message read for RETR, its dot-stuffed copy, a DATA buffer)
  // was a fresh mapping: a page fault per 4 KiB touched, and munmap when freed. Blocks up to
  // 4 MiB come from the heap instead; larger ones still get a mapping of their own.
  ::mallopt(M_MMAP_THRESHOLD, 4 << 20);

  CLI::App app{"missived: the Missive mail relay (SMTP in, durable queue, POP3 out)"};
  app.fallthrough();
  overrides flags;
  app.add_option("--config", flags.config_file, "TOML configuration file");
  app.add_option("--data-dir", flags.data_dir, "data directory (default ./missive-data)");
  app.add_option("--smtp", flags.smtp, "SMTP listener ADDR:PORT (repeatable)");
  app.add_option("--submission", flags.submission, "submission listener ADDR:PORT (repeatable)");
  app.add_option("--pop3", flags.pop3, "POP3 listener ADDR:PORT (repeatable)");
  app.add_option("--domain", flags.domains, "local domain (repeatable)");
  app.add_option("--hostname", flags.hostname, "host name in greetings and trace headers");
  app.add_flag("-v,--verbose", flags.verbose, "log debug lines too");

  auto* serve = app.add_subcommand("serve", "run the relay (the default)");
  auto* check = app.add_subcommand(
      "check", "validate the configuration (and its certificate) without starting anything");
  auto* user = app.add_subcommand("user", "manage local users");
  user->require_subcommand(1);
  user_command user_cmd;
  for (const char* action : {"add", "del", "passwd"}) {
    auto* sub = user->add_subcommand(action, fmt::format("{} a user", action));
    sub->add_option("address", user_cmd.address, "login address, e.g. alice@example.test")
        ->required();
    if (std::string_view(action) != "del") {
      sub->add_flag("--password-stdin", user_cmd.password_stdin, "read the password from stdin");
    }
    sub->callback([&user_cmd, action] { user_cmd.action = action; });
  }
  auto* user_list = user->add_subcommand("list", "list users");
  user_list->add_flag("--json", user_cmd.json, "one JSON document: {\"users\": [...]}");
  user_list->callback([&user_cmd] { user_cmd.action = "list"; });

  auto* alias = app.add_subcommand("alias", "manage aliases (forwarding, catch-alls)");
  alias->require_subcommand(1);
  alias_command alias_cmd;
  auto* alias_add = alias->add_subcommand("add", "add targets to an alias (made if new)");
  alias_add->add_option("source", alias_cmd.source, "an address, or @domain for a catch-all")
      ->required();
  alias_add->add_option("targets", alias_cmd.targets, "local users, other aliases, outside addresses")
      ->required();
  alias_add->callback([&alias_cmd] { alias_cmd.action = "add"; });
  auto* alias_del = alias->add_subcommand("del", "delete an alias and all its targets");
  alias_del->add_option("source", alias_cmd.source, "an address, or @domain")->required();
  alias_del->callback([&alias_cmd] { alias_cmd.action = "del"; });
  auto* alias_list = alias->add_subcommand("list", "list aliases");
  alias_list->add_flag("--json", alias_cmd.json,
                       "one JSON document: {\"aliases\": [{\"source\": ..., \"targets\": [...]}]}");
  alias_list->callback([&alias_cmd] { alias_cmd.action = "list"; });

  auto* queue = app.add_subcommand("queue", "inspect and manage the mail queue");
  queue->require_subcommand(1);
  queue_command queue_cmd;
  for (const char* action : {"list", "summary"}) {
    auto* sub = queue->add_subcommand(
        action, std::string_view(action) == "list"
                    ? "list queued messages"
                    : "count waiting recipients by domain and age, as Postfix's qshape");
    sub->add_flag("--json", queue_cmd.json, "one JSON document (shape in missived(8))");
    sub->callback([&queue_cmd, action] { queue_cmd.action = action; });
  }
  queue->add_subcommand("flush", "make every queued recipient due now")->callback([&queue_cmd] {
    queue_cmd.action = "flush";
  });
  for (const char* action : {"show", "retry", "delete"}) {
    auto* sub = queue->add_subcommand(action, fmt::format("{} one message", action));
    sub->add_option("id", queue_cmd.queue_id, "queue id")->required();
    if (std::string_view(action) == "show") {
      sub->add_flag("--json", queue_cmd.json, "one JSON document (shape in missived(8))");
    }
    sub->callback([&queue_cmd, action] { queue_cmd.action = action; });
  }
  auto* store = app.add_subcommand("store", "move the store");
  store->require_subcommand(1);
  std::string copy_to;
  auto* copy = store->add_subcommand(
      "copy", "copy the SQLite store of the data directory into an empty PostgreSQL database");
  copy->add_option("--to", copy_to, "libpq connection string or URI of the PostgreSQL database")
      ->required();
  auto* tls = app.add_subcommand("tls", "TLS certificates");
  tls->require_subcommand(1);
  auto* selfsigned = tls->add_subcommand("selfsigned", "write a self-signed certificate and key for development");
  selfsigned_command selfsigned_cmd;
  selfsigned->add_option("--cert", selfsigned_cmd.cert_file, "certificate file (default DATA_DIR/cert.pem)");
  selfsigned->add_option("--key", selfsigned_cmd.key_file, "private key file (default DATA_DIR/key.pem)");
  selfsigned
      ->add_option("--host", selfsigned_cmd.hosts,
                   "host name or IP address in the certificate (repeatable; default: the hostname)")
      ->check([](const std::string& host) {
        return valid_certificate_host(host) ? std::string() : "not a host name or IP address: " + host;
      });
  selfsigned->add_option("--days", selfsigned_cmd.days, "validity in days")->check(CLI::Range(1, 3650));

  auto* dkim = app.add_subcommand("dkim", "DKIM signing keys");
  dkim->require_subcommand(1);
  dkim_keygen_command keygen_cmd;
  auto* keygen = dkim->add_subcommand("keygen", "write a new signing key and print its DNS record");
  keygen->add_option("--domain", keygen_cmd.domain, "the From: domain it signs for")->required();
  keygen->add_option("--selector", keygen_cmd.selector, "its selector (s=)")->required();
  keygen->add_option("--algorithm", keygen_cmd.algorithm, "rsa (2048 bits, the default) or ed25519")
      ->check(CLI::IsMember({"rsa", "ed25519"}));
  auto* dkim_show = dkim->add_subcommand("show", "print the DNS record of every configured key");

  auto* srs = app.add_subcommand("srs", "the key of SRS addresses (forwarding)");
  srs->require_subcommand(1);
  auto* srs_keygen = srs->add_subcommand("keygen", "write a new SRS key into the data directory");

  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return status == 0 ? exit_code::ok : exit_code::usage;
  }
  if (flags.verbose) log::set_level(log::level::debug);

  try {
    server_config config = build_config(flags);
    if (check->parsed()) return run_check(config);
    if (user->parsed()) return run_user_command(config, user_cmd);
    if (alias->parsed()) return run_alias_command(config, alias_cmd);
    if (queue->parsed()) return run_queue_command(config, queue_cmd);
    if (srs_keygen->parsed()) return run_srs_keygen(config);
    if (tls->parsed()) return run_selfsigned(config, selfsigned_cmd);
    if (copy->parsed()) return run_store_copy(config, copy_to);
    if (keygen->parsed()) return run_dkim_keygen(config, keygen_cmd);
    if (dkim_show->parsed()) return run_dkim_show(config);
    (void)serve;
    return run_relay(config);
  } catch (const config_error& e) {
    for (const auto& problem : e.problems()) {
      std::cerr << "missived: configuration error: " << problem << "\n";
    }
    return exit_code::config;
  } catch (const data_directory_error& e) {
    std::cerr << "missived: " << e.what() << "\n";
    return exit_code::cant_create;
  } catch (const tls_error& e) {
    std::cerr << "missived: " << e.what() << "\n";
    return exit_code::os_error;
  } catch (const store_error& e) {
    // At start: a database this program cannot use (written by a newer version).
    std::cerr << "missived: " << e.what() << "\n";
    return e.why() == store_error::kind::permanent ? exit_code::config : exit_code::software;
  } catch (const std::system_error& e) {
    std::cerr << "missived: " << e.what() << "\n";
    return exit_code::os_error;
  } catch (const std::exception& e) {
    std::cerr << "missived: " << e.what() << "\n";
    return exit_code::software;
  }
}
