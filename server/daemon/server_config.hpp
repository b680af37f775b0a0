// The relay's configuration: built-in defaults, then the TOML file, then command-line flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ip_network.hpp"
#include "recipient_expansion.hpp"

namespace missive {

// A configuration that cannot be used: one problem or several, each naming the file, the line
// and the key; what() is all of them, one a line.
class config_error : public std::runtime_error {
 public:
  explicit config_error(const std::string& problem) : config_error(std::vector{problem}) {}
  explicit config_error(std::vector<std::string> problems);

  // Each problem on its own, in the order found.
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// Where each setting came from, so that checks made after loading (a certificate that cannot
// be read) still name the file and the line.
struct config_source {
  std::string file;  // empty: nothing was loaded (built-in defaults)
  std::map<std::string, int, std::less<>> lines;  // "tls.cert" -> its line in `file`

  // "FILE:LINE: key" when the key came from the file, else "key".
  std::string where(std::string_view key) const;
};

// An address to listen on or connect to: host (IPv4 or IPv6 literal) and port.
struct endpoint {
  std::string host;
  std::uint16_t port = 0;

  // "127.0.0.1:2525" or "[::1]:2525".
  std::string str() const;
};

// Parses "a.b.c.d:port" or "[v6]:port"; throws config_error naming `where` when malformed.
endpoint parse_endpoint(std::string_view text, std::string_view where);

// When a password may cross a connection without TLS ([smtp] plaintext_auth), for SMTP AUTH
// and POP3 USER/PASS and AUTH alike.
enum class plaintext_auth_policy {
  never,     // only over TLS
  loopback,  // over TLS, or from a loopback address (a webmail on the same host)
  always,    // anywhere (a network the operator trusts to carry passwords)
};

// Whether a password may be sent on a connection: always over TLS, else as `policy` says
// (RFC 4954 4 for SMTP AUTH, RFC 2595 4 for POP3).
inline bool password_may_cross(plaintext_auth_policy policy, bool encrypted, bool loopback) {
  return encrypted || policy == plaintext_auth_policy::always ||
         (policy == plaintext_auth_policy::loopback && loopback);
}

// SMTP listener settings ([smtp]).
struct smtp_settings {
  std::vector<endpoint> listen{{"127.0.0.1", 2525}};
  std::vector<endpoint> submission;   // RFC 6409: AUTH required
  std::vector<endpoint> submissions;  // RFC 8314: submission over implicit TLS
  std::vector<ip_network> trusted_networks;  // defaults filled in by the loader
  std::uint64_t max_message_size = 26214400;
  // Below this much free space on the data directory's filesystem, MAIL gets 452 4.3.1,
  // so the queue keeps room to deliver and bounce what it holds. Unset: twice
  // max_message_size (min_free_bytes()); 0 turns the check off.
  std::optional<std::uint64_t> min_free_space;
  std::uint64_t min_free_bytes() const { return min_free_space.value_or(2 * max_message_size); }
  std::size_t max_recipients = 100;
  // RFC 5321 4.5.3.2.7: the server waits at least 5 minutes for the next command.
  std::chrono::seconds command_timeout{300};
  // RFC 5321 4.5.3.2.5/6: at least 3 minutes for each block of data.
  std::chrono::seconds data_timeout{180};
  std::size_t max_connections = 1000;
  plaintext_auth_policy plaintext_auth = plaintext_auth_policy::loopback;
  // Abuse limits (they apply to POP3 too): connections per client address; failed logins
  // before the address is refused, and for how long.
  std::size_t max_connections_per_address = 20;
  std::size_t auth_failure_limit = 5;
  std::chrono::seconds auth_ban_time{600};
  // The pause before the greeting; a client that talks during it is refused (pregreet).
  std::chrono::milliseconds greeting_delay{100};
  // Characters that end a local part's base: alice+tag@d is delivered to alice@d (RFC 5233
  // calls the rest the detail); "" turns subaddresses off.
  std::string recipient_delimiter = "+";
};

// POP3 listener settings ([pop3]).
struct pop3_settings {
  std::vector<endpoint> listen{{"127.0.0.1", 2110}};
  std::vector<endpoint> pop3s;  // RFC 8314: POP3 over implicit TLS
  // RFC 1939 3: the inactivity autologout timer is at least 10 minutes.
  std::chrono::seconds idle_timeout{600};
  std::size_t max_connections = 1000;
};

// TLS certificate and key ([tls]); empty when TLS is off.
struct tls_settings {
  std::filesystem::path cert;
  std::filesystem::path key;
};

// Retry schedule ([queue]), in the spirit of Postfix's defaults, and how long the story of a
// finished message is kept.
struct queue_settings {
  std::chrono::seconds retry_initial{300};
  std::chrono::seconds retry_max{3600};
  std::chrono::seconds max_lifetime{5 * 86400};
  // After this long in the queue the sender of a message is sent one "delayed" DSN (RFC
  // 3461), unless its recipients' NOTIFY excludes DELAY; 0: never.
  std::chrono::seconds delay_warning{4 * 3600};
  // A message every recipient of which is done, and that no maildrop holds, is removed
  // with its history this long after its last attempt.
  std::chrono::seconds keep_history{30 * 86400};
  // Outbound SMTP connections at once, in all and to one destination (a next hop).
  std::size_t max_connections = 20;
  std::size_t max_connections_per_destination = 4;
  // The port of mail exchangers found by MX: 25 (RFC 5321 4.5.4.2 names no other); another
  // only for test set-ups and networks that redirect it.
  std::uint16_t mx_port = 25;
};

// How names are resolved ([dns]): through libunbound, asking the servers of
// /etc/resolv.conf unless `resolver` names one.
struct dns_settings {
  std::optional<endpoint> resolver;
  // A query unanswered this long is a temporary failure (defer, 451), never a permanent one.
  std::chrono::seconds timeout{10};
};

// Where the queue, mailboxes and users are kept ([store]): SQLite in data_dir unless a
// PostgreSQL URL is given, shared by every node of a cluster.
struct store_settings {
  std::string url;   // a libpq connection string or URI; empty for SQLite
  std::string node;  // this node's name among those sharing the store; empty: the hostname
  // How long a node's claim on remote recipients lasts: a node that dies holding them
  // leaves them to the others after this.
  std::chrono::seconds lease{300};
};

// The metrics endpoint ([metrics]): GET /metrics and /healthz over HTTP; off without listen.
struct metrics_settings {
  std::optional<endpoint> listen;
};

// Where non-local mail for a domain goes ([[route]]); domain "*" is the default route.
struct route {
  std::string domain;
  endpoint host;
  // STARTTLS to this host: "opportunistic" (when offered), "required" or "none".
  std::string tls = "opportunistic";
  // Credentials for a smarthost that wants AUTH (RFC 4954); empty for none.
  std::string user;
  std::string password;
};

// What is checked of inbound mail from clients outside trusted_networks that did not
// authenticate ([checks]).
struct checks_settings {
  // SPF (RFC 7208), of the MAIL FROM and HELO identities: "off", "annotate" (the results in
  // Authentication-Results), or "enforce" (a fail is refused, 550 5.7.23).
  std::string spf = "off";
  // DKIM signatures (RFC 6376): "off", or "annotate".
  std::string dkim = "off";
  // DMARC (RFC 7489): "off", "annotate", or "enforce" (p=reject refused with 550 5.7.1,
  // p=quarantine marked with X-Missive-Quarantine: dmarc).
  std::string dmarc = "off";
  // Whether anything is checked at all.
  bool any() const { return spf != "off" || dkim != "off" || dmarc != "off"; }
};

// Forwarding with the Sender Rewriting Scheme ([srs]): the key of SRS addresses and the
// domain they are made in. Without a secret (here or in data_dir/srs.secret) mail forwarded
// through an alias keeps its sender.
struct srs_settings {
  // A shorter key is guessed more easily than a hash is forged.
  static constexpr std::size_t min_secret_length = 16;

  std::string secret;  // empty: data_dir/srs.secret, which `missived srs keygen` writes
  std::string domain;  // one of `domains`, lower case; empty: the first of them
};

// A key to sign mail from one domain with ([[dkim]], RFC 6376).
struct dkim_settings {
  std::string domain;    // the From: domain it signs for (d=), lower case
  std::string selector;  // s=: the key's record is at selector._domainkey.domain
  // The PEM private key, relative to data_dir unless absolute; default
  // dkim/DOMAIN.SELECTOR.pem, where `missived dkim keygen` writes it.
  std::filesystem::path key;
  std::string algorithm = "rsa";  // "rsa" (rsa-sha256) or "ed25519" (RFC 8463)
};

// Everything missived needs to know to run.
struct server_config {
  std::string hostname;  // defaults to the machine's host name
  std::filesystem::path data_dir = "./missive-data";
  std::vector<std::string> domains{"localhost"};
  // The user to run as when started as root (default "missive", if it exists).
  std::optional<std::string> run_as;
  smtp_settings smtp;
  pop3_settings pop3;
  tls_settings tls;
  queue_settings queue;
  store_settings store;
  dns_settings dns;
  metrics_settings metrics;
  std::vector<route> routes;
  std::vector<dkim_settings> dkim;
  checks_settings checks;
  srs_settings srs;
  config_source source;

  // The SQLite database inside the data directory.
  std::filesystem::path database_path() const { return data_dir / "missive.db"; }
  // The domain SRS addresses are made in: [srs] domain, else the first local domain.
  std::string srs_domain() const { return srs.domain.empty() ? domains.front() : srs.domain; }
  // Whether `domain` (any case) is one of ours.
  bool is_local_domain(std::string_view domain) const;
};

// How recipients of the local domains are expanded under this configuration.
expansion_options recipient_expansion_of(const server_config& config);

// The built-in defaults (see DESIGN.md: ./missive-data, 127.0.0.1:2525/2110, localhost).
server_config default_server_config();

// Loads `file` over the defaults; throws config_error naming every unknown key and bad value.
server_config load_server_config(const std::filesystem::path& file);

}  // namespace missive
