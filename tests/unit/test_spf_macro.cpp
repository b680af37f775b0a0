// SPF macros against the examples of RFC 7208 7.4.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include "spf_macro.hpp"

using namespace missive;

namespace {

spf_macro_values rfc_example(const char* ip, bool v4) {
  spf_macro_values v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = "email.example.com";
  if (v4) {
    v.client[10] = v.client[11] = 0xff;
    inet_pton(AF_INET, ip, v.client.data() + 12);
  } else {
    inet_pton(AF_INET6, ip, v.client.data());
  }
  return v;
}

std::string expand(std::string_view text, const spf_macro_values& v) {
  REQUIRE(valid_macro_string(text, macro_use::domain_spec));
  return expand_macros(text, v, macro_use::domain_spec);
}

}  // namespace

TEST_CASE("RFC 7208 7.4: the examples for an IPv4 client") {
  auto v = rfc_example("192.0.2.3", true);
  CHECK(expand("%{s}", v) == "strong-bad@email.example.com");
  CHECK(expand("%{o}", v) == "email.example.com");
  CHECK(expand("%{d}", v) == "email.example.com");
  CHECK(expand("%{d4}", v) == "email.example.com");
  CHECK(expand("%{d3}", v) == "email.example.com");
  CHECK(expand("%{d2}", v) == "example.com");
  CHECK(expand("%{d1}", v) == "com");
  CHECK(expand("%{dr}", v) == "com.example.email");
  CHECK(expand("%{d2r}", v) == "example.email");
  CHECK(expand("%{l}", v) == "strong-bad");
  CHECK(expand("%{l-}", v) == "strong.bad");
  CHECK(expand("%{lr}", v) == "strong-bad");
  CHECK(expand("%{lr-}", v) == "bad.strong");
  CHECK(expand("%{l1r-}", v) == "strong");
  CHECK(expand("%{ir}.%{v}._spf.%{d2}", v) == "3.2.0.192.in-addr._spf.example.com");
  CHECK(expand("%{lr-}.lp._spf.%{d2}", v) == "bad.strong.lp._spf.example.com");
  CHECK(expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", v) ==
        "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  CHECK(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", v) ==
        "3.2.0.192.in-addr.strong.lp._spf.example.com");
  CHECK(expand("%{d2}.trusted-domains.example.net", v) == "example.com.trusted-domains.example.net");
}

TEST_CASE("RFC 7208 7.4: the example for an IPv6 client") {
  auto v = rfc_example("2001:db8::cb01", false);
  CHECK(expand("%{ir}.%{v}._spf.%{d2}", v) ==
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST_CASE("upper-case macros are URL-escaped; %%, %_ and %- are literals") {
  auto v = rfc_example("192.0.2.3", true);
  v.local_part = "a b/c";
  CHECK(expand("%{L}", v) == "a%20b%2Fc");
  CHECK(expand("%%%_%-", v) == "% %20");
}

TEST_CASE("macro-strings that are errors") {
  CHECK_FALSE(valid_macro_string("%{d0}", macro_use::domain_spec));   // a zero transformer
  CHECK_FALSE(valid_macro_string("%{x}", macro_use::domain_spec));    // no such letter
  CHECK_FALSE(valid_macro_string("%{c}", macro_use::domain_spec));    // explanations only
  CHECK(valid_macro_string("%{c} %{t}", macro_use::explanation));
  CHECK_FALSE(valid_macro_string("100%", macro_use::domain_spec));    // a lone percent
  CHECK_FALSE(valid_macro_string("%{d", macro_use::domain_spec));
  CHECK_FALSE(valid_domain_spec("museum"));                           // no dot before the top label
  CHECK_FALSE(valid_domain_spec("foo.1"));                            // an all-digit top label
  CHECK(valid_domain_spec("foo.example-1.com."));
  CHECK(valid_domain_spec("%{d}"));
  CHECK(valid_domain_spec("%{ir}.%{v}._spf.%{d2}"));
}
