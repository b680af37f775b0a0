// Logins that succeeded recently, so a client that polls POP3 every few seconds does not
// pay for scrypt (about 100 ms of CPU and 32 MiB) at every login, as Dovecot's auth cache
// spares its users. An entry keeps a keyed SHA-256 of the password, never the password,
// and the stored hash it was verified against: a changed password (a new stored hash)
// misses at once, and a deleted user is not found before the cache is asked.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace missive {

class credential_cache {
 public:
  explicit credential_cache(std::chrono::seconds lifetime = std::chrono::minutes(15));

  // Whether `password` was verified against `stored_hash` for `address` within the lifetime.
  bool verified_recently(const std::string& address, const std::string& stored_hash,
                         std::string_view password);
  // Records a successful verification.
  void remember(const std::string& address, const std::string& stored_hash,
                std::string_view password);

 private:
  using digest = std::array<std::uint8_t, 32>;
  struct entry {
    std::string stored_hash;
    digest password;
    std::chrono::steady_clock::time_point expires;
  };
  digest keyed_digest(std::string_view password) const;

  std::chrono::seconds lifetime_;
  std::array<std::uint8_t, 32> key_{};  // random per process
  std::mutex mutex_;                     // used from the reader threads
  std::unordered_map<std::string, entry> entries_;
};

}  // namespace missive
