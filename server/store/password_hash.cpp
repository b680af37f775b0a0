// Password hashing with scrypt: see password_hash.hpp.
#include "password_hash.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <optional>
#include <stdexcept>

#include "base64.hpp"

namespace missive {

namespace {

// scrypt cost: N = 2^15, r = 8, p = 1 uses 32 MiB and tens of milliseconds per check.
constexpr int default_log2_n = 15;
constexpr int default_r = 8;
constexpr int default_p = 1;
constexpr std::size_t salt_size = 16;
constexpr std::size_t key_size = 32;
// Enough memory for the parameters above (128 * r * N plus overhead) with room to spare.
constexpr std::uint64_t max_memory = 256ULL * 1024 * 1024;

struct scrypt_parameters {
  int log2_n = default_log2_n;
  int r = default_r;
  int p = default_p;
};

std::string derive(std::string_view password, std::string_view salt, scrypt_parameters params) {
  std::string key(key_size, '\0');
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(),
                     std::uint64_t{1} << params.log2_n, params.r, params.p, max_memory,
                     reinterpret_cast<unsigned char*>(key.data()), key.size()) != 1) {
    throw std::runtime_error("scrypt failed");
  }
  return key;
}

// Splits "$scrypt$ln=15,r=8,p=1$SALT$HASH" into its parts; nullopt when malformed.
struct parsed_hash {
  scrypt_parameters params;
  std::string salt;
  std::string key;
};

std::optional<parsed_hash> parse_hash(std::string_view stored) {
  constexpr std::string_view prefix = "$scrypt$";
  if (stored.substr(0, prefix.size()) != prefix) return std::nullopt;
  stored.remove_prefix(prefix.size());
  auto first = stored.find('$');
  auto second = stored.find('$', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos) return std::nullopt;
  int log2_n = -1, r = -1, p = -1;
  if (std::sscanf(std::string(stored.substr(0, first)).c_str(), "ln=%d,r=%d,p=%d", &log2_n, &r,
                  &p) != 3 ||
      log2_n < 1 || log2_n > 20 || r < 1 || r > 32 || p < 1 || p > 16) {
    return std::nullopt;
  }
  auto salt = base64_decode(stored.substr(first + 1, second - first - 1));
  auto key = base64_decode(stored.substr(second + 1));
  if (!salt || !key || key->size() != key_size) return std::nullopt;
  return parsed_hash{{log2_n, r, p}, std::move(*salt), std::move(*key)};
}

}  // namespace

std::string hash_password(std::string_view password) {
  std::string salt(salt_size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), salt_size) != 1) {
    throw std::runtime_error("no random bytes for a salt");
  }
  scrypt_parameters params;
  return fmt::format("$scrypt$ln={},r={},p={}${}${}", params.log2_n, params.r, params.p,
                     base64_encode(salt), base64_encode(derive(password, salt, params)));
}

bool verify_password(std::string_view password, std::string_view stored) {
  auto parsed = parse_hash(stored);
  if (!parsed) return false;
  std::string key = derive(password, parsed->salt, parsed->params);
  return CRYPTO_memcmp(key.data(), parsed->key.data(), key_size) == 0;
}

void burn_password_check_time(std::string_view password) {
  derive(password, std::string(salt_size, '\0'), scrypt_parameters{});
}

}  // namespace missive
