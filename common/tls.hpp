// TLS contexts (OpenSSL through asio::ssl) for both ends: the relay's listeners (STARTTLS,
// STLS, implicit TLS) and the clients (the relay's outbound SMTP, `missive`).
#pragma once

#include <asio/ssl/context.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

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

// Prepares a client's TLS session for `host`: SNI when it is a name (RFC 6066 3 forbids
// addresses there), and with tls_verify::peer the name or address the certificate must
// carry (RFC 6125). False when the check cannot be set up.
bool prepare_client_tls(SSL* ssl, const std::string& host, tls_verify verify);

// Why a handshake failed, in words: OpenSSL's reason, and the certificate check's verdict
// when that is what failed.
std::string handshake_failure(SSL* ssl, const std::error_code& ec);

// Whether `host` can be named in a certificate: an IPv4 or IPv6 address, or a DNS name
// (a "*." first label allowed).
bool valid_certificate_host(std::string_view host);

// Writes a self-signed certificate and key (PEM, key readable by its owner only) for `hosts`
// (names and addresses, each in the subjectAltName as what it is; the first also the CN),
// valid for `days`, for development and tests (`missived tls selfsigned`). Writes those two
// files and nothing else.
void write_self_signed(const std::filesystem::path& cert, const std::filesystem::path& key,
                       const std::vector<std::string>& hosts, int days);

}  // namespace missive
