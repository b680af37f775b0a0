// Unit tests for SRS0 addresses (srs_address.hpp): made and checked with a fixed key and
// day, against hashes computed independently (Python's hmac and base64.b32encode).
#include <doctest/doctest.h>

#include <string>

#include "srs_address.hpp"

using namespace missive;

namespace {

const std::string secret = "0123456789abcdef0123";
constexpr std::int64_t day = 20000;  // 20000 % 1024 = 544: timestamp "RA"

}  // namespace

TEST_CASE("srs: the day of a unix time") {
  CHECK(srs_day(0) == 0);
  CHECK(srs_day(86399) == 0);
  CHECK(srs_day(86400) == 1);
  CHECK(srs_day(20000LL * 86400 + 5) == 20000);
}

TEST_CASE("srs: forward writes SRS0=HASH=TT=domain=local with the known hash") {
  // hmac-sha256(secret, "ra=example.org=bob")[:5], base 32
  CHECK(srs_forward("bob", "example.org", secret, day) == "SRS0=IUMFNZLG=RA=example.org=bob");
  // An '=' in the original local part stays (the domain holds none, so it splits there).
  CHECK(srs_forward("bob.smith=x", "example.org", secret, day) ==
        "SRS0=PY4WRYS3=RA=example.org=bob.smith=x");
}

TEST_CASE("srs: what forward makes, reverse gives back") {
  struct row {
    const char* local;
    const char* domain;
  };
  for (auto r : {row{"bob", "example.org"}, row{"Bob.Smith", "Mail.Example.ORG"},
                 row{"a=b=c", "x.test"}, row{"srs0", "x.test"}, row{"user+tag", "sub.x.test"}}) {
    CAPTURE(r.local);
    auto made = srs_forward(r.local, r.domain, secret, day);
    CHECK(is_srs_local_part(made));
    auto back = srs_reverse(made, secret, day);
    REQUIRE(back.verdict == srs_verdict::valid);
    CHECK(back.local == r.local);
    CHECK(back.domain == r.domain);
  }
}

TEST_CASE("srs: the hash and the timestamp are read in any case") {
  for (const char* address : {"SRS0=IUMFNZLG=RA=example.org=bob", "srs0=iumfnzlg=ra=example.org=bob",
                              "Srs0=IuMfNzLg=rA=EXAMPLE.ORG=BOB"}) {
    CAPTURE(address);
    auto back = srs_reverse(address, secret, day);
    CHECK(back.verdict == srs_verdict::valid);
  }
}

TEST_CASE("srs: forged, altered and malformed addresses are refused") {
  struct row {
    const char* address;
    srs_verdict verdict;
  };
  const row rows[] = {
      {"SRS0=IUMFNZLH=RA=example.org=bob", srs_verdict::bad_hash},     // last character changed
      {"SRS0=AAAAAAAA=RA=example.org=bob", srs_verdict::bad_hash},     // made up
      {"SRS0=IUMFNZLG=RA=example.org=eve", srs_verdict::bad_hash},     // another sender
      {"SRS0=IUMFNZLG=RA=example.net=bob", srs_verdict::bad_hash},     // another domain
      {"SRS0=IUMFNZLG=RB=example.org=bob", srs_verdict::bad_hash},     // another day
      {"SRS0=IUMFNZL=RA=example.org=bob", srs_verdict::malformed},     // hash too short
      {"SRS0=IUMFNZLGG=RA=example.org=bob", srs_verdict::malformed},   // hash too long
      {"SRS0=IUMFNZLG=R=example.org=bob", srs_verdict::malformed},     // timestamp of one
      {"SRS0=IUMFNZLG=R1=example.org=bob", srs_verdict::malformed},    // '1' is not base 32
      {"SRS0=IUMFNZLG=RA=example.org", srs_verdict::malformed},        // no local part
      {"SRS0=IUMFNZLG=RA==bob", srs_verdict::malformed},               // no domain
      {"SRS0=IUMFNZLG=RA=example.org=", srs_verdict::malformed},       // empty local part
      {"SRS0=", srs_verdict::malformed},
      {"SRS0", srs_verdict::malformed},
      {"bob", srs_verdict::malformed},
  };
  for (const auto& r : rows) {
    CAPTURE(r.address);
    CHECK(srs_reverse(r.address, secret, day).verdict == r.verdict);
  }
  // Another key's address is a forgery to us.
  auto theirs = srs_forward("bob", "example.org", "another secret of some length", day);
  CHECK(srs_reverse(theirs, secret, day).verdict == srs_verdict::bad_hash);
}

TEST_CASE("srs: an address is honoured for 21 days, a day ahead, and not after") {
  auto made = srs_forward("bob", "example.org", secret, day);
  CHECK(srs_reverse(made, secret, day).verdict == srs_verdict::valid);
  CHECK(srs_reverse(made, secret, day + 1).verdict == srs_verdict::valid);
  CHECK(srs_reverse(made, secret, day + srs_max_age_days).verdict == srs_verdict::valid);
  CHECK(srs_reverse(made, secret, day + srs_max_age_days + 1).verdict == srs_verdict::expired);
  CHECK(srs_reverse(made, secret, day + 500).verdict == srs_verdict::expired);
  // A node whose clock is a day behind the one that made it.
  CHECK(srs_reverse(made, secret, day - 1).verdict == srs_verdict::valid);
  CHECK(srs_reverse(made, secret, day - 2).verdict == srs_verdict::expired);
  // The timestamp wraps every 1024 days: across the wrap the age still counts right.
  auto before_wrap = srs_forward("bob", "example.org", secret, 1023);
  CHECK(srs_reverse(before_wrap, secret, 1024 + 3).verdict == srs_verdict::valid);
  CHECK(srs_reverse(before_wrap, secret, 1024 + 30).verdict == srs_verdict::expired);
}

TEST_CASE("srs: only SRS0 local parts are taken for SRS") {
  CHECK(is_srs_local_part("SRS0=x"));
  CHECK(is_srs_local_part("srs0=x"));
  CHECK_FALSE(is_srs_local_part("SRS1=x"));
  CHECK_FALSE(is_srs_local_part("srs0"));
  CHECK_FALSE(is_srs_local_part("bob"));
}
