// TLS contexts (OpenSSL through asio::ssl) for both ends: the relay's listeners (STARTTLS,
// STLS, implicit TLS) and the clients (the relay's outbound SMTP, `missive`).
#pragma once

#include <asio/ssl/context.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace missive {

// A TLS setting that cannot be used (unreadable certificate, key that does not match).
class tls_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A server context: TLS 1.2 or newer, the certificate chain and private key from PEM files.
asio::ssl::context make_server_tls_context(const std::filesystem::path& cert,
                                           const std::filesystem::path& key);

// How a client checks the server's certificate.
enum class tls_verify {
  none,   // opportunistic encryption (RFC 7435), as MTAs do between relays by default
  peer,   // the system's CA store (or `ca_file`) and the host name
};

// A client context: TLS 1.2 or newer, verifying as asked.
asio::ssl::context make_client_tls_context(tls_verify verify, const std::filesystem::path& ca_file = {});

// Writes a self-signed certificate and key (PEM, key readable by its owner only) for `host`,
// valid for `days`, for development and tests (`missived tls selfsigned`).
void write_self_signed(const std::filesystem::path& cert, const std::filesystem::path& key,
                       const std::string& host, int days);

}  // namespace missive
