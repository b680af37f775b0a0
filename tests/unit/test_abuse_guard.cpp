// Unit tests for the per-address limits and the networks exempt from them.
#include <doctest/doctest.h>

#include "abuse_guard.hpp"

using namespace missive;

namespace {

client_address address(const char* text) { return *parse_ip_address(text); }

abuse_guard::limits small_limits() {
  abuse_guard::limits l;
  l.connections_per_address = 2;
  l.auth_failures = 3;
  return l;
}

}  // namespace

TEST_CASE("abuse_guard: connections per address, counted back on disconnect") {
  abuse_guard guard(small_limits());
  auto a = address("192.0.2.7");
  CHECK(guard.try_connect(a));
  CHECK(guard.try_connect(a));
  CHECK_FALSE(guard.try_connect(a));
  CHECK(guard.try_connect(address("192.0.2.8")));
  guard.disconnect(a);
  CHECK(guard.try_connect(a));
}

TEST_CASE("abuse_guard: failed logins ban the address for a while") {
  abuse_guard guard(small_limits());
  auto a = address("192.0.2.7");
  auto now = abuse_guard::clock::now();
  CHECK_FALSE(guard.login_failed(a, now));
  CHECK_FALSE(guard.login_failed(a, now));
  CHECK(guard.login_failed(a, now));
  CHECK(guard.banned(a, now));
  CHECK_FALSE(guard.banned(a, now + std::chrono::seconds(601)));
}

TEST_CASE("abuse_guard: trusted networks are exempt from the cap and the ban") {
  abuse_guard guard(small_limits(), {*parse_ip_network("127.0.0.0/8"), *parse_ip_network("::1/128")});
  auto local = address("127.0.0.1");
  CHECK(guard.exempt(local));
  CHECK(guard.exempt(address("::1")));
  CHECK_FALSE(guard.exempt(address("192.0.2.7")));
  for (int i = 0; i < 50; ++i) CHECK(guard.try_connect(local));
  for (int i = 0; i < 50; ++i) guard.disconnect(local);
  auto now = abuse_guard::clock::now();
  for (int i = 0; i < 20; ++i) CHECK_FALSE(guard.login_failed(local, now));
  CHECK_FALSE(guard.banned(local, now));
  // an address outside them is limited as before
  auto outside = address("192.0.2.7");
  CHECK(guard.try_connect(outside));
  CHECK(guard.try_connect(outside));
  CHECK_FALSE(guard.try_connect(outside));
}
