// DKIM signing (RFC 6376) with RSA-SHA256 or Ed25519-SHA256 (RFC 8463), relaxed/relaxed: the
// keys of [[dkim]], the DKIM-Signature field for a message, and the DNS record to publish.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "server_config.hpp"

namespace missive {

// A signing key of one domain and selector, loaded from its PEM file.
class dkim_key {
 public:
  // Reads `settings.key` (relative to `data_dir`); throws config_error naming the file when
  // it cannot be read or is not a key of `settings.algorithm`.
  dkim_key(const dkim_settings& settings, const std::filesystem::path& data_dir);
  ~dkim_key();
  dkim_key(dkim_key&&) noexcept;
  dkim_key& operator=(dkim_key&&) noexcept;

  const dkim_settings& settings() const { return settings_; }

  // The DKIM-Signature field (with its CRLF) for a message whose header section is
  // `headers` and body `body`, signed at `when`.
  std::string sign(std::string_view headers, std::string_view body,
                   std::chrono::system_clock::time_point when) const;

  // The TXT record to publish: `selector._domainkey.domain. IN TXT "v=DKIM1; k=…; p=…"`,
  // split into strings of at most 255 octets (RFC 1035 3.3.14).
  std::string dns_record() const;

 private:
  struct pkey;
  dkim_settings settings_;
  std::unique_ptr<pkey> key_;
};

// Writes a new private key for `settings` (RSA 2048 bits, or Ed25519) to `path`, readable
// by its owner only; throws std::runtime_error when it cannot.
void generate_dkim_key(const dkim_settings& settings, const std::filesystem::path& path);

// The domain of the first address in a From: field's text ("From: A <a@d>" -> "d"), in lower
// case; empty when there is none.
std::string from_domain(std::string_view from_field);

}  // namespace missive
