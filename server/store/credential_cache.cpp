// Recently verified logins: see credential_cache.hpp.
#include "credential_cache.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace missive {

namespace {

// Bounds the memory a flood of distinct logins could take; beyond it the cache starts over.
constexpr std::size_t max_entries = 10000;

}  // namespace

credential_cache::credential_cache(std::chrono::seconds lifetime) : lifetime_(lifetime) {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    throw std::runtime_error("credential cache: no random bytes for its key");
  }
}

credential_cache::digest credential_cache::keyed_digest(std::string_view password) const {
  digest out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(password.data()), password.size(), out.data(),
       &length);
  return out;
}

bool credential_cache::verified_recently(const std::string& address,
                                         const std::string& stored_hash,
                                         std::string_view password) {
  digest given = keyed_digest(password);
  std::lock_guard lock(mutex_);
  auto found = entries_.find(address);
  if (found == entries_.end()) return false;
  const entry& e = found->second;
  if (std::chrono::steady_clock::now() >= e.expires || e.stored_hash != stored_hash) {
    entries_.erase(found);
    return false;
  }
  return CRYPTO_memcmp(e.password.data(), given.data(), given.size()) == 0;
}

void credential_cache::remember(const std::string& address, const std::string& stored_hash,
                                std::string_view password) {
  digest verified = keyed_digest(password);
  std::lock_guard lock(mutex_);
  if (entries_.size() >= max_entries) entries_.clear();
  entries_[address] = {stored_hash, verified, std::chrono::steady_clock::now() + lifetime_};
}

}  // namespace missive
