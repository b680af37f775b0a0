// `missived dkim keygen` and `missived dkim show`: signing keys and the DNS records that
// publish them (RFC 6376 3.6.1, RFC 8463 4.2).
#pragma once

#include <string>

namespace missive {

struct server_config;

// What `dkim keygen` was asked for.
struct dkim_keygen_command {
  std::string domain;
  std::string selector;
  std::string algorithm = "rsa";
};

// Writes a new key (owner-readable only) where [[dkim]] expects it (by default
// DATA_DIR/dkim/DOMAIN.SELECTOR.pem) and prints the TXT record to publish; exit status.
int run_dkim_keygen(const server_config& config, const dkim_keygen_command& command);

// Prints the TXT record of every configured key; exit status (78 for a key that cannot be
// read).
int run_dkim_show(const server_config& config);

}  // namespace missive
