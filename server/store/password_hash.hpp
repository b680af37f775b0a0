// Password hashing with scrypt (RFC 7914) from OpenSSL: salted, deliberately slow.
#pragma once

#include <string>
#include <string_view>

namespace missive {

// Hashes a password with a fresh random salt: "$scrypt$ln=15,r=8,p=1$SALT$HASH" (base64).
std::string hash_password(std::string_view password);

// Whether `password` matches `stored` (a hash_password result), compared in constant time.
// A malformed `stored` never matches.
bool verify_password(std::string_view password, std::string_view stored);

// Spends the same time as a verification, for unknown users, so timing reveals nothing.
void burn_password_check_time(std::string_view password);

}  // namespace missive
