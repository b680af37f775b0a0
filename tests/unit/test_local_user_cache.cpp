#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include "local_user_cache.hpp"
#include "user_generation.hpp"

using missive::local_user_cache;
using missive::user_generation;
using namespace std::chrono_literals;

TEST_CASE("local user cache: an answer holds, in any case of the address, until it expires") {
  local_user_cache cache(10s);
  auto t0 = local_user_cache::clock::now();
  CHECK_FALSE(cache.find("alice@x.test", 0, t0).has_value());
  cache.remember("Alice@X.test", std::string("alice@x.test"), 0, t0);
  cache.remember("nobody@x.test", std::nullopt, 0, t0);
  auto alice = cache.find("ALICE@x.TEST", 0, t0 + 9s);
  REQUIRE(alice.has_value());
  CHECK(*alice == std::optional<std::string>("alice@x.test"));
  auto nobody = cache.find("nobody@x.test", 0, t0 + 9s);
  REQUIRE(nobody.has_value());
  CHECK_FALSE(nobody->has_value());  // known: no such user
  CHECK_FALSE(cache.find("alice@x.test", 0, t0 + 10s).has_value());
}

TEST_CASE("local user cache: a new generation forgets everything, and an older answer is not kept") {
  local_user_cache cache(10s);
  auto now = local_user_cache::clock::now();
  cache.remember("alice@x.test", std::string("alice@x.test"), 4, now);
  CHECK(cache.find("alice@x.test", 4, now).has_value());
  CHECK_FALSE(cache.find("alice@x.test", 5, now).has_value());
  CHECK_FALSE(cache.find("alice@x.test", 4, now).has_value());  // gone, not back
  // Read from the database under generation 4, which is out of date by now.
  cache.remember("alice@x.test", std::string("alice@x.test"), 4, now);
  CHECK_FALSE(cache.find("alice@x.test", 5, now).has_value());
  cache.remember("alice@x.test", std::nullopt, 5, now);
  CHECK(cache.find("alice@x.test", 5, now).has_value());
}

TEST_CASE("local user cache: many addresses cost a bounded amount") {
  local_user_cache cache(10s, 3);
  auto now = local_user_cache::clock::now();
  for (int i = 0; i < 3; ++i) cache.remember(std::to_string(i) + "@x.test", std::nullopt, 0, now);
  CHECK(cache.find("2@x.test", 0, now).has_value());
  cache.remember("3@x.test", std::nullopt, 0, now);  // full: starts over with this one
  CHECK(cache.find("3@x.test", 0, now).has_value());
  CHECK_FALSE(cache.find("0@x.test", 0, now).has_value());
}

TEST_CASE("user generation: a bump in one mapping is seen by another at once") {
  auto dir = std::filesystem::temp_directory_path() /
             ("missive-generation-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = missive::user_generation_file(dir);
  {
    user_generation relay(file);  // creates the file
    REQUIRE(relay.usable());
    CHECK(relay.value() == 0);
    CHECK(std::filesystem::file_size(file) == 8);
    user_generation admin(file);
    CHECK(admin.bump());
    CHECK(admin.bump());
    CHECK(relay.value() == 2);
  }
  user_generation later(file);  // the count survives
  CHECK(later.value() == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("user generation: an unreadable place is reported unusable, not thrown") {
  user_generation nowhere("/nonexistent-directory/users.generation");
  CHECK_FALSE(nowhere.usable());
  CHECK(nowhere.value() == 0);
  CHECK_FALSE(nowhere.bump());
}
