// Users as the sessions see them: see user_directory.hpp.
#include "user_directory.hpp"

#include "offload.hpp"
#include "password_hash.hpp"

namespace missive {

namespace {

// Threads for password checks: two logins verified at once, the rest wait their turn.
constexpr int password_check_threads = 2;

}  // namespace

user_directory::user_directory(mail_store& store, expansion_options expansion)
    : store_(store), expansion_(std::move(expansion)), password_checks_(password_check_threads) {}

user_directory::~user_directory() {
  password_checks_.stop();
  password_checks_.join();
}

std::optional<std::optional<std::string>> user_directory::known_local_user(
    std::string_view address) {
  auto version = store_.users_version();
  if (!version) return std::nullopt;
  return known_users_.find(address, *version, local_user_cache::clock::now());
}

asio::awaitable<expansion> user_directory::resolve(std::string address) {
  // The version is read before the store is asked: a change committed after this read
  // raises it, so the answer is remembered under a version that is already out of date.
  auto version = store_.users_version();
  // Named before it is awaited: the options' copy is no temporary of the co_await (GCC 12).
  auto lookup = store_.resolve_recipient(address, expansion_);
  auto found = co_await std::move(lookup);
  // Only an address that is a mailbox's (not an alias's targets) fits the known-user cache;
  // an alias or user added later raises the version, so it is forgotten then. "No such
  // recipient" is asked of the store each time, so a user added is known at the next RCPT
  // even where the news of it comes later than the admin command's return (PostgreSQL's
  // NOTIFY reaches the relay asynchronously).
  if (version && found.status == expansion_status::found && found.recipients.size() == 1 &&
      found.recipients.front().address == address && !found.recipients.front().mailbox.empty()) {
    known_users_.remember(address, found.recipients.front().mailbox, *version,
                          local_user_cache::clock::now());
  }
  co_return found;
}

asio::awaitable<std::optional<user_identity>> user_directory::authenticate(
    const std::string& address, const std::string& password) {
  auto user = co_await store_.credentials(address);
  if (!user) {
    // As slow as a wrong password, so the answer does not tell which addresses exist.
    auto burn = [password] {
      burn_password_check_time(password);
      return true;
    };
    co_await offload(password_checks_, std::move(burn));
    co_return std::nullopt;
  }
  if (!logins_.verified_recently(user->address, user->password_hash, password)) {
    auto check = [password, hash = user->password_hash] { return verify_password(password, hash); };
    bool matches = co_await offload(password_checks_, std::move(check));
    if (!matches) co_return std::nullopt;
    logins_.remember(user->address, user->password_hash, password);
  }
  co_return user_identity{user->id, user->address};
}

}  // namespace missive
