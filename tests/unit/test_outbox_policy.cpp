// Unit tests for the outbox's backoff per message and for when a claim may be taken over.
#include <doctest/doctest.h>

#include <chrono>

#include "json_text.hpp"
#include "outbox_policy.hpp"

using missive::client::claim_is_free;
using missive::client::claim_state;
using missive::client::outbox_next_attempt;
using namespace std::chrono_literals;

TEST_CASE("outbox_next_attempt: the pace doubled per failure, at most an hour") {
  CHECK(outbox_next_attempt(1000, 1, 30s) == 1030);
  CHECK(outbox_next_attempt(1000, 2, 30s) == 1060);
  CHECK(outbox_next_attempt(1000, 3, 30s) == 1120);
  CHECK(outbox_next_attempt(1000, 8, 30s) == 1000 + 3600);
  CHECK(outbox_next_attempt(1000, 1'000'000'000, 30s) == 1000 + 3600);
  CHECK(outbox_next_attempt(1000, 0, 30s) == 1030);
  // A pace longer than the cap is kept: watch does not come back sooner anyway.
  CHECK(outbox_next_attempt(1000, 5, 2h) == 1000 + 7200);
  CHECK(outbox_next_attempt(1000, 1, 0s) == 1001);
}

TEST_CASE("claim_is_free: never while a local holder lives; a foreign one after its lease") {
  CHECK(claim_is_free({false, false, false, 0}, 100));
  CHECK_FALSE(claim_is_free({true, true, true, 0}, 1'000'000));
  CHECK(claim_is_free({true, true, false, 99}, 100));
  CHECK_FALSE(claim_is_free({true, false, false, 100}, 100 + 3599));
  CHECK(claim_is_free({true, false, false, 100}, 100 + 3600));
}

TEST_CASE("json_string: escapes, control characters, and octets that are not UTF-8") {
  using missive::client::json_string;
  CHECK(json_string("plain") == "\"plain\"");
  CHECK(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_string("tab\tnl\ncr\r") == "\"tab\\tnl\\ncr\\r\"");
  CHECK(json_string(std::string("nul\0bell\x07", 9)) == "\"nul\\u0000bell\\u0007\"");
  CHECK(json_string("Grüße 日本") == "\"Grüße 日本\"");
  CHECK(json_string("bad\xff") == "\"bad\xEF\xBF\xBD\"");
  CHECK(json_string("cut\xC3") == "\"cut\xEF\xBF\xBD\"");
  CHECK(json_string("\xED\xA0\x80") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
}
