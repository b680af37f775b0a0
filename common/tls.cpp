// TLS contexts and self-signed certificates: see tls.hpp.
#include "tls.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <asio/ip/address.hpp>

#include <cctype>
#include <cstdio>
#include <memory>

namespace missive {

namespace {

// The server's TLS 1.2 suites: Mozilla's "intermediate" profile (Server Side TLS guidelines
// 5) without its DHE suites, which need DH parameters and which every client that has them
// can do without (they all have ECDHE). Every one has forward secrecy (ECDHE; no static-RSA key exchange) and is an AEAD
// (AES-GCM, ChaCha20-Poly1305; no CBC, so nothing for Lucky13). ECDSA first for a server with
// an ECDSA certificate, the RSA twin for one with RSA. TLS 1.3's suites are OpenSSL's own
// (RFC 8446 9.1), all of them AEAD with forward secrecy.
constexpr const char* server_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The key-exchange groups the server accepts, in its order (RFC 8446 4.2.7, RFC 8422 5.1.1).
constexpr const char* server_groups = "X25519:P-256:P-384";

// TLS 1.2 or newer only; no compression (CRIME).
void harden(asio::ssl::context& context) {
  context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
}

// The server's profile on top of harden(): the suites and groups above, in the server's
// order. Mozilla leaves the order to the client, every suite being strong; auditors such as
// testssl.sh rate a server without its own order HIGH, and it costs nothing: ChaCha20 still
// goes to a client that puts it first (one without AES instructions, for which it is the
// faster). No renegotiation at all: TLS 1.3 has none (RFC 8446 4), and in TLS 1.2 one
// started by the client makes the server pay for a handshake for nothing.
void apply_server_profile(asio::ssl::context& context) {
  SSL_CTX* native = context.native_handle();
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
                                  SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, server_tls12_ciphers) != 1 ||
      SSL_CTX_set1_groups_list(native, server_groups) != 1) {
    throw tls_error("OpenSSL does not offer the TLS cipher suites or groups the server needs");
  }
}

}  // namespace

asio::ssl::context make_server_tls_context(const std::filesystem::path& cert,
                                           const std::filesystem::path& key) {
  asio::ssl::context context(asio::ssl::context::tls_server);
  harden(context);
  apply_server_profile(context);
  std::error_code ec;
  context.use_certificate_chain_file(cert.string(), ec);
  if (ec) throw tls_error(fmt::format("cannot use the certificate {}: {}", cert.string(), ec.message()));
  context.use_private_key_file(key.string(), asio::ssl::context::pem, ec);
  if (ec) throw tls_error(fmt::format("cannot use the private key {}: {}", key.string(), ec.message()));
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    throw tls_error(fmt::format("the key {} does not match the certificate {}", key.string(),
                                cert.string()));
  }
  return context;
}

// OpenSSL's default suites and groups, not the server's profile: a client offers and the
// server picks, so a well-kept peer still gets ECDHE with an AEAD, while an older one that
// knows only CBC or static-RSA suites still gets encryption; refused, opportunistic relaying
// (RFC 7435) would carry the mail in plaintext instead.
asio::ssl::context make_client_tls_context(tls_verify verify, const std::filesystem::path& ca_file) {
  asio::ssl::context context(asio::ssl::context::tls_client);
  harden(context);
  if (verify == tls_verify::none) {
    context.set_verify_mode(asio::ssl::verify_none);
    return context;
  }
  std::error_code ec;
  if (ca_file.empty()) context.set_default_verify_paths(ec);
  else context.load_verify_file(ca_file.string(), ec);
  if (ec) throw tls_error(fmt::format("cannot load trusted certificates: {}", ec.message()));
  context.set_verify_mode(asio::ssl::verify_peer);
  return context;
}

bool prepare_client_tls(SSL* ssl, const std::string& host, tls_verify verify) {
  std::error_code ec;
  asio::ip::make_address(host, ec);
  const bool literal = !ec;
  if (!literal) SSL_set_tlsext_host_name(ssl, host.c_str());
  if (verify != tls_verify::peer) return true;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int set = literal ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                          : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  return set == 1;
}

std::string handshake_failure(SSL* ssl, const std::error_code& ec) {
  const long verdict = SSL_get_verify_result(ssl);
  if (verdict != X509_V_OK) {
    return fmt::format("{} ({})", ec.message(), X509_verify_cert_error_string(verdict));
  }
  return ec.message();
}

bool valid_certificate_host(std::string_view host) {
  std::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) return true;
  // RFC 1123 2.1 and RFC 1035 2.3.4: labels of letters, digits and hyphens, 1 to 63 octets,
  // not beginning or ending with a hyphen; at most 253 octets in all. A wildcard is a
  // whole first label (RFC 6125 6.4.3).
  if (host.empty() || host.size() > 253) return false;
  if (host.starts_with("*.")) host.remove_prefix(2);
  while (true) {
    const std::string_view label = host.substr(0, host.find('.'));
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (label.size() == host.size()) return true;
    host.remove_prefix(label.size() + 1);
  }
}

namespace {

using general_names = std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)>;

// The subjectAltName of a certificate for `hosts`: an iPAddress entry (4 or 16 octets) for
// an address, a dNSName for a name (RFC 5280 4.2.1.6). A client that connects to an address
// looks for it in iPAddress entries only, never among the dNSNames.
general_names subject_alt_names(const std::vector<std::string>& hosts) {
  general_names names(sk_GENERAL_NAME_new_null(), GENERAL_NAMES_free);
  if (!names) throw tls_error("cannot build the certificate's subjectAltName");
  for (const auto& host : hosts) {
    if (!valid_certificate_host(host)) {
      throw tls_error(fmt::format("not a host name or address: \"{}\"", host));
    }
    GENERAL_NAME* name = GENERAL_NAME_new();
    if (!name || sk_GENERAL_NAME_push(names.get(), name) == 0) {
      GENERAL_NAME_free(name);
      throw tls_error("cannot build the certificate's subjectAltName");
    }
    std::error_code ec;
    const asio::ip::address address = asio::ip::make_address(host, ec);
    ASN1_STRING* value = ASN1_STRING_type_new(ec ? V_ASN1_IA5STRING : V_ASN1_OCTET_STRING);
    bool set = false;
    if (value && ec) {
      set = ASN1_STRING_set(value, host.data(), static_cast<int>(host.size())) == 1;
    } else if (value && address.is_v4()) {
      const auto bytes = address.to_v4().to_bytes();
      set = ASN1_STRING_set(value, bytes.data(), static_cast<int>(bytes.size())) == 1;
    } else if (value) {
      const auto bytes = address.to_v6().to_bytes();
      set = ASN1_STRING_set(value, bytes.data(), static_cast<int>(bytes.size())) == 1;
    }
    if (!set) {
      ASN1_STRING_free(value);
      throw tls_error("cannot build the certificate's subjectAltName");
    }
    GENERAL_NAME_set0_value(name, ec ? GEN_DNS : GEN_IPADD, value);
  }
  return names;
}

}  // namespace

void write_self_signed(const std::filesystem::path& cert, const std::filesystem::path& key,
                       const std::vector<std::string>& hosts, int days) {
  if (hosts.empty()) throw tls_error("a certificate needs at least one host name or address");
  general_names alt_names = subject_alt_names(hosts);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(EVP_RSA_gen(2048), EVP_PKEY_free);
  if (!pkey) throw tls_error("cannot generate an RSA key");
  std::unique_ptr<X509, decltype(&X509_free)> x509(X509_new(), X509_free);
  X509_set_version(x509.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x509.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(x509.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x509.get()), 86400L * days);
  X509_set_pubkey(x509.get(), pkey.get());
  // The CN is for people reading the certificate (RFC 5280 allows it 64 octets); clients
  // check the subjectAltName (RFC 6125 6.4.4).
  X509_NAME* name = X509_get_subject_name(x509.get());
  const std::string& first = hosts.front();
  if (first.size() <= 64) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(first.c_str()), -1, -1, 0);
  }
  X509_set_issuer_name(x509.get(), name);
  if (X509_add1_ext_i2d(x509.get(), NID_subject_alt_name, alt_names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    throw tls_error("cannot add the subjectAltName to the certificate");
  }
  if (X509_sign(x509.get(), pkey.get(), EVP_sha256()) == 0) throw tls_error("cannot sign the certificate");

  auto write = [](const std::filesystem::path& path, mode_t mode, auto&& writer) {
    FILE* file = std::fopen(path.c_str(), "w");
    if (!file) throw tls_error(fmt::format("cannot write {}", path.string()));
    ::fchmod(fileno(file), mode);
    bool ok = writer(file);
    std::fclose(file);
    if (!ok) throw tls_error(fmt::format("cannot write {}", path.string()));
  };
  write(key, 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  write(cert, 0644, [&](FILE* f) { return PEM_write_X509(f, x509.get()) == 1; });
}

}  // namespace missive
