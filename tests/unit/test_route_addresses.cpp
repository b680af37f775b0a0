// Unit tests of turning exchangers' names into addresses (router's plan_with_addresses, the
// address literals of A and AAAA records): pure code, no DNS.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "address_lookup.hpp"
#include "router.hpp"

using namespace missive;

namespace {

route_plan two_exchangers() {
  mx_answer records{mx_answer::kind::records, {{10, "mx1.c.test"}, {20, "mx2.c.test"}}, ""};
  return plan_from_mx("c.test", records, 2525);
}

address_answer found(std::vector<std::string> addresses) {
  return {address_answer::kind::addresses, std::move(addresses), ""};
}

}  // namespace

TEST_CASE("address literals of A and AAAA record data") {
  CHECK(address_literal(std::string("\x7f\x00\x00\x01", 4)) == "127.0.0.1");
  CHECK(address_literal(std::string("\x20\x01\x0d\xb8" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x01", 16)) ==
        "2001:db8::1");
  CHECK(address_literal("abc").empty());
}

TEST_CASE("each exchanger becomes a hop per address, in preference order") {
  std::map<std::string, address_answer> addresses{
      {"mx1.c.test", found({"192.0.2.1", "2001:db8::1"})}, {"mx2.c.test", found({"192.0.2.2"})}};
  auto plan = plan_with_addresses("c.test", two_exchangers(), addresses, false);
  REQUIRE(plan.outcome == route_plan::kind::hops);
  REQUIRE(plan.hops.size() == 3);
  CHECK(plan.hops[0].host == "192.0.2.1");
  CHECK(plan.hops[1].host == "2001:db8::1");
  CHECK(plan.hops[2].host == "192.0.2.2");
  CHECK(plan.hops[2].port == 2525);
  CHECK(plan.destination == "c.test");
}

TEST_CASE("an exchanger without an address is skipped; none left is a retry, not a bounce") {
  std::map<std::string, address_answer> addresses{
      {"mx1.c.test", {address_answer::kind::none, {}, "no address (A or AAAA) for mx1.c.test"}},
      {"mx2.c.test", found({"192.0.2.2"})}};
  auto plan = plan_with_addresses("c.test", two_exchangers(), addresses, false);
  REQUIRE(plan.hops.size() == 1);
  CHECK(plan.hops[0].host == "192.0.2.2");

  addresses["mx2.c.test"] = {address_answer::kind::none, {}, "no address (A or AAAA) for mx2.c.test"};
  auto none = plan_with_addresses("c.test", two_exchangers(), addresses, false);
  CHECK(none.outcome == route_plan::kind::retry);
  CHECK(none.detail.starts_with("451 4.4.3 "));
}

TEST_CASE("a domain without MX and without an address takes no mail; a failed lookup retries") {
  auto implicit = plan_from_mx("c.test", {mx_answer::kind::no_records, {}, ""});
  std::map<std::string, address_answer> none{
      {"c.test", {address_answer::kind::none, {}, "no address (A or AAAA) for c.test"}}};
  auto plan = plan_with_addresses("c.test", implicit, none, true);
  CHECK(plan.outcome == route_plan::kind::permanent);
  CHECK(plan.detail.starts_with("550 5.1.2 "));
  std::map<std::string, address_answer> failed{
      {"c.test", {address_answer::kind::temporary, {}, "no DNS answer for c.test within 10 s"}}};
  CHECK(plan_with_addresses("c.test", implicit, failed, true).outcome == route_plan::kind::retry);
}
