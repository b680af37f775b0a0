// Unit tests for what a local recipient leads to (recipient_expansion.hpp): tables of users
// and aliases, no store.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ascii.hpp"
#include "recipient_expansion.hpp"

using namespace missive;

namespace {

// Users and aliases in memory, matched in any case as the store matches them.
class table_book final : public address_book {
 public:
  table_book(std::set<std::string> users, std::map<std::string, std::vector<std::string>> aliases)
      : users_(std::move(users)), aliases_(std::move(aliases)) {}
  std::optional<std::string> user(std::string_view address) override {
    ++lookups;
    for (const auto& u : users_) {
      if (iequals(u, address)) return u;
    }
    return std::nullopt;
  }
  std::vector<std::string> alias_targets(std::string_view source) override {
    ++lookups;
    for (const auto& [s, targets] : aliases_) {
      if (iequals(s, source)) return targets;
    }
    return {};
  }
  int lookups = 0;

 private:
  std::set<std::string> users_;
  std::map<std::string, std::vector<std::string>> aliases_;
};

expansion_options options() {
  expansion_options o;
  o.local_domains = {"a.test", "b.test"};
  return o;
}

// "address>mailbox" for local recipients, "address!" for forwarded outside ones, else the address.
std::vector<std::string> summary(const expansion& e) {
  std::vector<std::string> out;
  for (const auto& r : e.recipients) {
    if (!r.mailbox.empty()) out.push_back(r.address + ">" + r.mailbox);
    else out.push_back(r.address + (r.forwarded ? "!" : ""));
  }
  return out;
}

table_book book() {
  return table_book(
      {"alice@a.test", "bob@a.test", "Carol@a.test", "dave+x@a.test", "eve@b.test"},
      {{"info@a.test", {"alice@a.test", "bob@a.test"}},
       {"team@a.test", {"info@a.test", "carol@a.test", "alice@a.test"}},  // nested, alice twice
       {"all@a.test", {"team@a.test", "info@a.test", "friend@outside.test"}},
       {"loop1@a.test", {"loop2@a.test"}},
       {"loop2@a.test", {"alice@a.test", "loop3@a.test"}},
       {"loop3@a.test", {"loop1@a.test"}},
       {"self@a.test", {"self@a.test"}},
       {"dead@a.test", {"nobody@a.test"}},
       {"half@a.test", {"nobody@a.test", "bob@a.test"}},
       {"sales@a.test", {"bob@a.test"}},
       {"@b.test", {"eve@b.test"}},
       {"@a.test", {}},  // an empty row list is no alias
       {"postmaster@a.test", {"alice@a.test"}},
       {"out@a.test", {"x@outside.test", "X@OUTSIDE.test"}}});
}

}  // namespace

TEST_CASE("expansion: users, aliases, nesting, outside targets, one copy per mailbox") {
  auto b = book();
  struct row {
    const char* address;
    expansion_status status;
    std::vector<std::string> recipients;
  };
  const row rows[] = {
      {"alice@a.test", expansion_status::found, {"alice@a.test>alice@a.test"}},
      {"ALICE@A.TEST", expansion_status::found, {"ALICE@A.TEST>alice@a.test"}},
      {"carol@a.test", expansion_status::found, {"carol@a.test>Carol@a.test"}},
      {"info@a.test", expansion_status::found, {"alice@a.test>alice@a.test", "bob@a.test>bob@a.test"}},
      {"team@a.test", expansion_status::found,
       {"alice@a.test>alice@a.test", "bob@a.test>bob@a.test", "carol@a.test>Carol@a.test"}},
      {"all@a.test", expansion_status::found,
       {"alice@a.test>alice@a.test", "bob@a.test>bob@a.test", "carol@a.test>Carol@a.test",
        "friend@outside.test!"}},
      {"out@a.test", expansion_status::found, {"x@outside.test!"}},
      {"half@a.test", expansion_status::found, {"bob@a.test>bob@a.test"}},
      {"dead@a.test", expansion_status::unknown, {}},
      {"nobody@a.test", expansion_status::unknown, {}},
      {"postmaster@a.test", expansion_status::found, {"alice@a.test>alice@a.test"}},
      {"someone@outside.test", expansion_status::found, {"someone@outside.test"}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.address);
    auto e = expand_recipient(r.address, options(), b);
    CHECK(e.status == r.status);
    CHECK(summary(e) == r.recipients);
  }
}

TEST_CASE("expansion: a loop is refused whole, with its path") {
  auto b = book();
  auto e = expand_recipient("loop1@a.test", options(), b);
  CHECK(e.status == expansion_status::loop);
  CHECK(e.recipients.empty());  // not alice alone: a broken alias is the operator's to mend
  CHECK(e.detail == "loop1@a.test -> loop2@a.test -> loop3@a.test -> loop1@a.test");
  auto self = expand_recipient("self@a.test", options(), b);
  CHECK(self.status == expansion_status::loop);
  CHECK(self.detail == "self@a.test -> self@a.test");
}

TEST_CASE("expansion: a diamond is no loop") {
  table_book b({"d@a.test"}, {{"top@a.test", {"l@a.test", "r@a.test"}},
                              {"l@a.test", {"d@a.test"}},
                              {"r@a.test", {"d@a.test"}}});
  auto e = expand_recipient("top@a.test", options(), b);
  CHECK(e.status == expansion_status::found);
  CHECK(summary(e) == std::vector<std::string>{"d@a.test>d@a.test"});
}

TEST_CASE("expansion: nesting deeper than the limit is refused") {
  std::map<std::string, std::vector<std::string>> chain;
  for (int i = 0; i < 12; ++i) {
    chain["a" + std::to_string(i) + "@a.test"] = {"a" + std::to_string(i + 1) + "@a.test"};
  }
  table_book b({"a12@a.test"}, chain);
  auto o = options();
  o.max_depth = 10;
  CHECK(expand_recipient("a0@a.test", o, b).status == expansion_status::too_deep);
  CHECK(expand_recipient("a3@a.test", o, b).status == expansion_status::found);
}

TEST_CASE("expansion: fan-out beyond the limit is refused") {
  table_book b({}, {{"many@a.test", {"x1@o.test", "x2@o.test", "x3@o.test"}}});
  auto o = options();
  o.max_recipients = 2;
  CHECK(expand_recipient("many@a.test", o, b).status == expansion_status::too_many);
  o.max_recipients = 3;
  CHECK(expand_recipient("many@a.test", o, b).status == expansion_status::found);
}

TEST_CASE("expansion: subaddresses go to the base user or alias, the tag kept") {
  auto b = book();
  struct row {
    const char* address;
    std::vector<std::string> recipients;
  };
  const row rows[] = {
      {"alice+lists@a.test", {"alice+lists@a.test>alice@a.test"}},
      {"alice+a+b@a.test", {"alice+a+b@a.test>alice@a.test"}},
      {"sales+x@a.test", {"bob@a.test>bob@a.test"}},
      {"dave+x@a.test", {"dave+x@a.test>dave+x@a.test"}},  // a user of its own
      {"dave+y@a.test", {}},                               // dave is no user
      {"+x@a.test", {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.address);
    CHECK(summary(expand_recipient(r.address, options(), b)) == r.recipients);
  }
  auto off = options();
  off.recipient_delimiter = "";
  CHECK(expand_recipient("alice+lists@a.test", off, b).status == expansion_status::unknown);
  auto two = options();
  two.recipient_delimiter = "+-";
  CHECK(summary(expand_recipient("alice-x@a.test", two, b)) ==
        std::vector<std::string>{"alice-x@a.test>alice@a.test"});
}

TEST_CASE("expansion: a catch-all only where no user or alias matches") {
  auto b = book();
  CHECK(summary(expand_recipient("anyone@b.test", options(), b)) ==
        std::vector<std::string>{"eve@b.test>eve@b.test"});
  CHECK(summary(expand_recipient("eve@b.test", options(), b)) ==
        std::vector<std::string>{"eve@b.test>eve@b.test"});
  // A subaddress of a user is that user's, not the catch-all's.
  table_book c({"alice@b.test", "eve@b.test"}, {{"@b.test", {"eve@b.test"}}});
  CHECK(summary(expand_recipient("alice+x@b.test", options(), c)) ==
        std::vector<std::string>{"alice+x@b.test>alice@b.test"});
  // A catch-all to an address that leads nowhere comes back to itself: a loop, not a hang.
  table_book d({}, {{"@b.test", {"gone@b.test"}}});
  CHECK(expand_recipient("x@b.test", options(), d).status == expansion_status::loop);
}

TEST_CASE("expansion: the subaddress of an address") {
  CHECK(without_subaddress("alice+tag@a.test", "+") == "alice@a.test");
  CHECK(without_subaddress("alice+@a.test", "+") == "alice@a.test");
  CHECK(without_subaddress("alice@a.test", "+") == std::nullopt);
  CHECK(without_subaddress("+tag@a.test", "+") == std::nullopt);
  CHECK(without_subaddress("alice+tag@a.test", "") == std::nullopt);
  CHECK(without_subaddress("a-b+c@a.test", "+-") == "a@a.test");
  CHECK(domain_of("x@A.Test") == "a.test");
}
