// What sessions ask about users, with the caches in front of the store: which recipients
// exist (known users), and logins verified in the last minutes (so a client polling POP3
// every few seconds does not pay for scrypt each time). The caches sit above the store, so
// every store implementation gets them and none has to hold them; they forget what they
// know when the store says the users changed (mail_store::users_version).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "credential_cache.hpp"
#include "local_user_cache.hpp"
#include "mail_store.hpp"

namespace missive {

// Users as the sessions see them. Used from the network thread; password checks (scrypt,
// about 100 ms of CPU) run on a small pool of their own.
class user_directory {
 public:
  // `expansion`: how recipients of the local domains are resolved (resolve()).
  explicit user_directory(mail_store& store, expansion_options expansion = {});
  ~user_directory();
  user_directory(const user_directory&) = delete;
  user_directory& operator=(const user_directory&) = delete;

  // The mailbox of an address that resolve() found to be a user's own (or a subaddress of
  // one), when the cache knows it and the users have not changed since; nullopt when the
  // store must be asked.
  std::optional<std::optional<std::string>> known_local_user(std::string_view address);
  // What a recipient of a local domain leads to (recipient_expansion.hpp); an address that
  // is itself a user's (or a subaddress of one) is remembered as local_user's answers are.
  asio::awaitable<expansion> resolve(std::string address);
  // How resolve() expands (its limits name the refusals).
  const expansion_options& expansion_settings() const { return expansion_; }
  // Checks a user's password (slowly, by design, unless it was verified recently); the user
  // when it matches. The arguments must live until the result is awaited.
  asio::awaitable<std::optional<user_identity>> authenticate(const std::string& address,
                                                             const std::string& password);

 private:
  mail_store& store_;
  expansion_options expansion_;
  local_user_cache known_users_;
  credential_cache logins_;
  asio::thread_pool password_checks_;
};

}  // namespace missive
