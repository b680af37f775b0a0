#include <doctest/doctest.h>

#include "credential_cache.hpp"

using missive::credential_cache;

TEST_CASE("credential cache: only the same password against the same stored hash hits") {
  credential_cache cache;
  CHECK_FALSE(cache.verified_recently("a@x.test", "$scrypt$1", "secret"));
  cache.remember("a@x.test", "$scrypt$1", "secret");
  CHECK(cache.verified_recently("a@x.test", "$scrypt$1", "secret"));
  CHECK_FALSE(cache.verified_recently("a@x.test", "$scrypt$1", "Secret"));
  CHECK_FALSE(cache.verified_recently("a@x.test", "$scrypt$1", ""));
  CHECK_FALSE(cache.verified_recently("b@x.test", "$scrypt$1", "secret"));
  // The password was changed (a new stored hash): the old entry is gone for good.
  CHECK_FALSE(cache.verified_recently("a@x.test", "$scrypt$2", "secret"));
  CHECK_FALSE(cache.verified_recently("a@x.test", "$scrypt$1", "secret"));
}

TEST_CASE("credential cache: entries expire after their lifetime") {
  credential_cache cache(std::chrono::seconds(0));
  cache.remember("a@x.test", "$scrypt$1", "secret");
  CHECK_FALSE(cache.verified_recently("a@x.test", "$scrypt$1", "secret"));
}
