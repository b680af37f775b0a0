// Unit tests for scrypt password hashes.
#include <doctest/doctest.h>

#include "password_hash.hpp"

using namespace missive;

TEST_CASE("a password verifies against its own hash and nothing else") {
  std::string hash = hash_password("correct horse");
  CHECK(hash.rfind("$scrypt$ln=15,r=8,p=1$", 0) == 0);
  CHECK(verify_password("correct horse", hash));
  CHECK_FALSE(verify_password("correct hors", hash));
  CHECK_FALSE(verify_password("", hash));
  // A fresh salt every time: the same password never hashes the same.
  CHECK(hash_password("correct horse") != hash);
}

TEST_CASE("malformed stored hashes never match") {
  for (const char* stored : {"", "plain", "$scrypt$", "$scrypt$ln=15,r=8,p=1$", "$scrypt$ln=99,r=8,p=1$AAAA$AAAA",
                             "$scrypt$ln=15,r=8,p=1$!!!!$AAAA", "$bcrypt$ln=15,r=8,p=1$AAAA$AAAA"}) {
    CAPTURE(stored);
    CHECK_FALSE(verify_password("x", stored));
  }
}
