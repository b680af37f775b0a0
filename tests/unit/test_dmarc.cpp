// DMARC records and the policy decision (RFC 7489 3.1, 6.3, 6.6), without DNS.
#include <doctest/doctest.h>

#include "dmarc_check.hpp"
#include "dmarc_record.hpp"
#include "organizational_domain.hpp"

using namespace missive;

namespace {

dkim_result signature(const char* domain, dkim_result::kind outcome = dkim_result::kind::pass) {
  dkim_result r;
  r.outcome = outcome;
  r.domain = domain;
  r.selector = "s";
  return r;
}

dmarc_evidence evidence(const char* from) {
  dmarc_evidence e;
  e.from_domains = {from};
  return e;
}

}  // namespace

TEST_CASE("DMARC records: tags, defaults, and what is not a usable record") {
  auto r = parse_dmarc_record("v=DMARC1; p=reject; sp=quarantine; pct=20; adkim=s; aspf=s");
  REQUIRE(r);
  CHECK(r->policy == dmarc_policy::reject);
  CHECK(r->subdomain_policy == dmarc_policy::quarantine);
  CHECK(r->percent == 20);
  CHECK(r->strict_dkim);
  CHECK(r->strict_spf);
  r = parse_dmarc_record("v=DMARC1;p=none");
  REQUIRE(r);
  CHECK_FALSE(r->subdomain_policy);
  CHECK(r->percent == 100);
  CHECK_FALSE(r->strict_dkim);
  // RFC 7489 6.6.3: no valid p= is p=none when rua= is given, else no record at all.
  r = parse_dmarc_record("v=DMARC1; p=bogus; rua=mailto:d@example.com");
  REQUIRE(r);
  CHECK(r->policy == dmarc_policy::none);
  CHECK_FALSE(parse_dmarc_record("v=DMARC1; p=bogus"));
  CHECK_FALSE(parse_dmarc_record("p=reject; v=DMARC1"));  // v= must come first
  CHECK_FALSE(parse_dmarc_record("v=DMARC2; p=reject"));
  CHECK_FALSE(parse_dmarc_record("v=spf1 -all"));
}

TEST_CASE("organizational domains come from the Public Suffix List") {
  CHECK(organizational_domain("mail.example.com") == "example.com");
  CHECK(organizational_domain("a.b.example.co.uk") == "example.co.uk");
  CHECK(organizational_domain("Example.COM.") == "example.com");
  CHECK(organizational_domain("co.uk") == "co.uk");  // a public suffix is its own
  CHECK(organizational_domain("x.mail.org.test") == "org.test");  // an unlisted TLD: one label
}

TEST_CASE("alignment: relaxed across a subdomain, strict only the same name") {
  auto relaxed = *parse_dmarc_record("v=DMARC1; p=reject");
  auto strict = *parse_dmarc_record("v=DMARC1; p=reject; adkim=s; aspf=s");
  auto e = evidence("example.com");
  e.dkim = {signature("mail.example.com")};
  CHECK(evaluate_dmarc(relaxed, false, e).outcome == dmarc_result::kind::pass);
  auto strict_result = evaluate_dmarc(strict, false, e);
  CHECK(strict_result.outcome == dmarc_result::kind::fail);
  CHECK(strict_result.disposition == dmarc_policy::reject);

  e.dkim = {signature("example.net"), signature("example.com", dkim_result::kind::fail)};
  CHECK(evaluate_dmarc(relaxed, false, e).outcome == dmarc_result::kind::fail);

  e.dkim.clear();
  e.spf = spf_result::kind::pass;
  e.spf_domain = "bounces.example.com";
  CHECK(evaluate_dmarc(relaxed, false, e).outcome == dmarc_result::kind::pass);
  CHECK(evaluate_dmarc(strict, false, e).outcome == dmarc_result::kind::fail);
  e.spf = spf_result::kind::softfail;
  e.spf_domain = "example.com";
  CHECK(evaluate_dmarc(relaxed, false, e).outcome == dmarc_result::kind::fail);
}

TEST_CASE("the policy applied: sp= for a subdomain found at the organization, pct= sampling") {
  auto record = *parse_dmarc_record("v=DMARC1; p=none; sp=reject; pct=30");
  auto e = evidence("mail.example.com");
  e.sample = 29;
  auto result = evaluate_dmarc(record, true, e);
  CHECK(result.policy == dmarc_policy::reject);
  CHECK(result.disposition == dmarc_policy::reject);
  e.sample = 30;  // outside pct: the next policy down (RFC 7489 6.6.4)
  CHECK(evaluate_dmarc(record, true, e).disposition == dmarc_policy::quarantine);
  CHECK(evaluate_dmarc(record, false, e).disposition == dmarc_policy::none);  // found at the name itself: p=
}

TEST_CASE("a DNS error that could have been a pass is temperror, not fail") {
  auto record = *parse_dmarc_record("v=DMARC1; p=reject");
  auto e = evidence("example.com");
  e.dkim = {signature("example.com", dkim_result::kind::temperror)};
  CHECK(evaluate_dmarc(record, false, e).outcome == dmarc_result::kind::temperror);
  e.dkim = {signature("example.com")};
  e.spf = spf_result::kind::temperror;
  CHECK(evaluate_dmarc(record, false, e).outcome == dmarc_result::kind::pass);
}
