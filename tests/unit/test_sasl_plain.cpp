// Unit tests for the SASL PLAIN message (RFC 4616 2).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "base64.hpp"
#include "sasl_plain.hpp"

using namespace std::literals;

TEST_CASE("decode_sasl_plain: valid messages") {
  struct plain_case {
    std::string message;  // before base64
    std::string authzid;
    std::string authcid;
    std::string password;
  };
  const std::vector<plain_case> cases = {
      {"\0alice@example.test\0secret"s, "", "alice@example.test", "secret"},
      {"admin\0alice\0secret"s, "admin", "alice", "secret"},
      {"\0alice\0pass with spaces"s, "", "alice", "pass with spaces"},
      {"\0j\xc3\xb6\0p\xc3\xa4ss"s, "", "j\xc3\xb6", "p\xc3\xa4ss"},
      {"\0a\0b"s, "", "a", "b"},
  };
  for (const auto& c : cases) {
    INFO("authcid: ", c.authcid);
    auto credentials = missive::decode_sasl_plain(missive::base64_encode(c.message));
    REQUIRE(credentials.has_value());
    CHECK(credentials->authzid == c.authzid);
    CHECK(credentials->authcid == c.authcid);
    CHECK(credentials->password == c.password);
  }
  // The RFC 4616 2 example "\0tim\0tanstaaftanstaaf".
  auto tim = missive::decode_sasl_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  REQUIRE(tim.has_value());
  CHECK(tim->authzid == "");
  CHECK(tim->authcid == "tim");
  CHECK(tim->password == "tanstaaftanstaaf");
}

TEST_CASE("decode_sasl_plain: malformed messages") {
  const std::vector<std::string> messages = {
      "alice\0secret"s,       // one NUL
      "alicesecret"s,         // none
      "\0\0secret"s,          // empty user
      "\0alice\0"s,           // empty password
      "\0\0"s,                // both empty
      "\0a\0b\0c"s,           // three NULs
      "\0alice\0sec\0ret"s,   // a NUL in the password
      ""s,
  };
  for (const auto& message : messages) {
    INFO("message size: ", message.size());
    CHECK_FALSE(missive::decode_sasl_plain(missive::base64_encode(message)).has_value());
  }
  CHECK_FALSE(missive::decode_sasl_plain("!!!!").has_value());
  CHECK_FALSE(missive::decode_sasl_plain("AGFsaWNlAHNlY3JldA=").has_value());
  CHECK_FALSE(missive::decode_sasl_plain("AGFsaWNlAHNlY3JldA== ").has_value());
  CHECK_FALSE(missive::decode_sasl_plain("").has_value());
  CHECK_FALSE(missive::decode_sasl_plain("=").has_value());
}
