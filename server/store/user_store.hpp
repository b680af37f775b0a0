// Local users in the database, synchronous: for admin commands and worker threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

namespace db {
class connection;
}

// A user row: id, login address and stored password hash.
struct user_record {
  std::int64_t id = 0;
  std::string address;
  std::string password_hash;
};

// Adds a user; false when the address is taken.
template <class Db>
bool add_user(Db& db, std::string_view address, std::string_view password_hash);
// Deletes a user, their maildrop and the messages only it held; false when there is no such
// user. Several statements: run it inside a transaction (the store's writer does).
template <class Db>
bool delete_user(Db& db, std::string_view address);
// Replaces a user's password hash; false when there is no such user.
template <class Db>
bool set_password_hash(Db& db, std::string_view address, std::string_view hash);
// Every user's address, sorted.
template <class Db>
std::vector<std::string> list_users(Db& db);
// The user with this address (any case), if any.
template <class Db>
std::optional<user_record> find_user(Db& db, std::string_view address);
// Only the id of that user: what a delivery needs, without copying the password hash.
template <class Db>
std::optional<std::int64_t> find_user_id(Db& db, std::string_view address);

}  // namespace missive
