// The client's settings: the config file (~/.config/missive/config.toml or --config),
// command-line overrides, and the password (MISSIVE_PASSWORD or password_command).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tls.hpp"

namespace missive::client {

// Whether `missive` protects its connections with STARTTLS (SMTP) and STLS (POP3).
enum class tls_policy {
  none,      // "none": never, even when offered
  starttls,  // "starttls" (default): when the server offers it
  required,  // "required": never send or fetch without it (exit 69 when not offered)
};

// Everything `missive` needs to reach its server and keep its store.
struct client_config {
  std::string server = "127.0.0.1";
  std::uint16_t smtp_port = 2525;
  std::uint16_t pop3_port = 2110;
  std::string user;              // login address; empty: no authentication
  std::string password_command;  // run with /bin/sh -c; the first line of its output
  tls_policy tls = tls_policy::starttls;
  // "peer" (default): the certificate must be trusted (ca_file, else the system's CA store)
  // and name the server; "none": encryption without checking who is at the other end.
  tls_verify verify = tls_verify::peer;  // config key `tls_verify`
  std::string ca_file;           // PEM file of trusted certificates; relative to the config file
  // The name (or address) the server's certificate must carry, and the SNI name; empty: the
  // `server` setting. For a server reached by address whose certificate names it by name.
  std::string tls_server_name;
  std::string data_dir;          // the local store's folder
};

// Command-line flags that override the file; empty/zero means "not given".
struct config_overrides {
  std::string config_file;
  std::string server;
  std::uint16_t smtp_port = 0;
  std::uint16_t pop3_port = 0;
  std::string user;
  std::string data_dir;
};

// Loads the config file (the given one, which must exist, else the default one if present),
// applies the overrides and fills the data directory. Throws client_error (exit 78) naming
// file:line:key for unknown keys and bad values.
client_config load_client_config(const config_overrides& overrides);

// The password: MISSIVE_PASSWORD, else the first line printed by password_command; nullopt
// when neither is set. Throws client_error when the command fails.
std::optional<std::string> resolve_password(const client_config& config);

// This machine's host name ("localhost" when unknown).
std::string host_name();

}  // namespace missive::client
