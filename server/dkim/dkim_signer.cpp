// DKIM signing: see dkim_signer.hpp.
#include "dkim_signer.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "ascii.hpp"
#include "base64.hpp"
#include "dkim_canonical.hpp"

namespace missive {

namespace {

// RFC 6376 5.4.1's recommended fields, of those a reader sees and a forwarder should not change.
constexpr std::array<std::string_view, 10> signed_fields = {
    "from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type",
    "in-reply-to", "references"};

// Lines of a folded tag value: short enough for any reader (RFC 5322 2.1.1 asks 78).
constexpr std::size_t fold_width = 72;

bool is_ed25519(const dkim_settings& settings) { return settings.algorithm == "ed25519"; }

std::string openssl_error(const char* what) { return fmt::format("DKIM: cannot {}", what); }

std::string sha256(std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned length = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()),
                 &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error(openssl_error("hash"));
  }
  out.resize(length);
  return out;
}

std::string folded(std::string_view text) {
  std::string out;
  for (std::size_t at = 0; at < text.size(); at += fold_width) {
    if (at > 0) out += "\r\n\t";
    out.append(text.substr(at, fold_width));
  }
  return out;
}

std::filesystem::path key_path(const dkim_settings& settings, const std::filesystem::path& data_dir) {
  return settings.key.is_absolute() ? settings.key : data_dir / settings.key;
}

}  // namespace

struct dkim_key::pkey {
  EVP_PKEY* key = nullptr;
  ~pkey() { EVP_PKEY_free(key); }
};

dkim_key::dkim_key(const dkim_settings& settings, const std::filesystem::path& data_dir)
    : settings_(settings), key_(std::make_unique<pkey>()) {
  auto file = key_path(settings, data_dir);
  std::FILE* in = std::fopen(file.c_str(), "r");
  if (in == nullptr) {
    throw config_error(fmt::format("DKIM key {} (d={}, s={}): cannot read it: {}", file.string(),
                                   settings.domain, settings.selector, std::strerror(errno)));
  }
  key_->key = PEM_read_PrivateKey(in, nullptr, nullptr, nullptr);
  std::fclose(in);
  if (key_->key == nullptr) {
    throw config_error(fmt::format("DKIM key {}: not a PEM private key", file.string()));
  }
  int expected = is_ed25519(settings) ? EVP_PKEY_ED25519 : EVP_PKEY_RSA;
  if (EVP_PKEY_get_base_id(key_->key) != expected) {
    throw config_error(fmt::format("DKIM key {}: not an {} key (algorithm = \"{}\")",
                                   file.string(), is_ed25519(settings) ? "Ed25519" : "RSA",
                                   settings.algorithm));
  }
  // RFC 8301 3.2: verifiers ignore RSA keys under 1024 bits.
  if (!is_ed25519(settings) && EVP_PKEY_get_bits(key_->key) < 1024) {
    throw config_error(fmt::format("DKIM key {}: an RSA key of {} bits (1024 at least; 2048 "
                                   "recommended)", file.string(), EVP_PKEY_get_bits(key_->key)));
  }
}

dkim_key::~dkim_key() = default;
dkim_key::dkim_key(dkim_key&&) noexcept = default;
dkim_key& dkim_key::operator=(dkim_key&&) noexcept = default;

std::string dkim_key::sign(std::string_view headers, std::string_view body,
                           std::chrono::system_clock::time_point when) const {
  auto fields = split_header_fields(headers);
  // RFC 6376 5.4.2: several fields of one name are signed from the last up. From is named
  // once more than it occurs: a field that is not there signs as nothing, so a From added
  // later breaks the signature (over-signing).
  std::string names, data;
  for (std::string_view name : signed_fields) {
    std::vector<std::string_view> found;
    for (const auto& field : fields) {
      if (iequals(field.name, name)) found.push_back(field.text);
    }
    for (auto it = found.rbegin(); it != found.rend(); ++it) {
      names += names.empty() ? "" : ":";
      names += name;
      data += relaxed_header(*it);
    }
    if (name == "from") names += names.empty() ? "from" : ":from";
  }
  relaxed_body_hash body_hash;
  body_hash.update(body);
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
  std::string field = fmt::format(
      "DKIM-Signature: v=1; a={}; c=relaxed/relaxed; d={}; s={};\r\n\tt={}; h={};\r\n\tbh={};\r\n\tb=",
      is_ed25519(settings_) ? "ed25519-sha256" : "rsa-sha256", settings_.domain, settings_.selector,
      seconds, names, base64_encode(body_hash.finish()));
  // RFC 6376 3.7: the signature field itself last, with b= empty and without its CRLF.
  std::string own = relaxed_header(field);
  data.append(own, 0, own.size() - 2);

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  struct freer {
    EVP_MD_CTX* ctx;
    ~freer() { EVP_MD_CTX_free(ctx); }
  } free_ctx{ctx};
  // RFC 8463 3: Ed25519 (pure) signs the SHA-256 of the data; RSA signs the data with SHA-256.
  std::string digest = is_ed25519(settings_) ? sha256(data) : std::string();
  std::string_view to_sign = is_ed25519(settings_) ? std::string_view(digest) : std::string_view(data);
  const EVP_MD* md = is_ed25519(settings_) ? nullptr : EVP_sha256();
  std::size_t length = 0;
  if (ctx == nullptr || EVP_DigestSignInit(ctx, nullptr, md, nullptr, key_->key) != 1 ||
      EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(to_sign.data()),
                     to_sign.size()) != 1) {
    throw std::runtime_error(openssl_error("sign"));
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size()) != 1) {
    throw std::runtime_error(openssl_error("sign"));
  }
  signature.resize(length);
  return field + folded(base64_encode(signature)) + "\r\n";
}

std::string dkim_key::dns_record() const {
  std::string public_key;
  if (is_ed25519(settings_)) {
    // RFC 8463 4.2: the bare 32-octet key.
    std::size_t length = 0;
    EVP_PKEY_get_raw_public_key(key_->key, nullptr, &length);
    public_key.resize(length);
    EVP_PKEY_get_raw_public_key(key_->key, reinterpret_cast<unsigned char*>(public_key.data()),
                                &length);
  } else {
    // RFC 6376 3.6.1: the DER SubjectPublicKeyInfo, as every verifier reads it.
    unsigned char* der = nullptr;
    int length = i2d_PUBKEY(key_->key, &der);
    if (length <= 0) throw std::runtime_error(openssl_error("encode the public key"));
    public_key.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
  }
  std::string text = fmt::format("v=DKIM1; k={}; p={}", is_ed25519(settings_) ? "ed25519" : "rsa",
                                 base64_encode(public_key));
  std::string strings;
  for (std::size_t at = 0; at < text.size(); at += 255) {
    strings += fmt::format("{}\"{}\"", strings.empty() ? "" : " ", text.substr(at, 255));
  }
  return fmt::format("{}._domainkey.{}. IN TXT {}", settings_.selector, settings_.domain, strings);
}

void generate_dkim_key(const dkim_settings& settings, const std::filesystem::path& path) {
  EVP_PKEY* key = is_ed25519(settings) ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                       : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
  if (key == nullptr) throw std::runtime_error(openssl_error("make a key"));
  struct freer {
    EVP_PKEY* key;
    ~freer() { EVP_PKEY_free(key); }
  } free_key{key};
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  // Never over an existing key: the published record would stop matching.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("cannot create {}: {}", path.string(), std::strerror(errno)));
  }
  std::FILE* out = ::fdopen(fd, "w");
  bool written = out != nullptr && PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  bool closed = out != nullptr ? std::fclose(out) == 0 : ::close(fd) == 0;
  if (!written || !closed) {
    std::filesystem::remove(path, ec);
    throw std::runtime_error(fmt::format("cannot write {}", path.string()));
  }
}

std::string from_domain(std::string_view field) {
  std::size_t colon = field.find(':');
  std::string_view value = colon == std::string_view::npos ? field : field.substr(colon + 1);
  std::size_t open = value.find('<');
  std::string_view address = value;
  if (open != std::string_view::npos) {
    std::size_t close = value.find('>', open);
    address = value.substr(open + 1, close == std::string_view::npos ? std::string_view::npos
                                                                      : close - open - 1);
  } else {
    address = value.substr(0, value.find(','));
  }
  std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view domain = address.substr(at + 1);
  while (!domain.empty() && (domain.back() == '\r' || domain.back() == '\n' ||
                             domain.back() == ' ' || domain.back() == '\t')) {
    domain.remove_suffix(1);
  }
  return lowercase_ascii(domain);
}

}  // namespace missive
