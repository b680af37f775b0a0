// SPF records (RFC 7208 4.5, 12): recognising one among a domain's TXT records and reading it
// into mechanisms and modifiers, without I/O. Macro-strings are checked here and expanded by
// the evaluator (spf_check), since their values belong to one check.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

// RFC 7208 4.6.2: the result a matching mechanism gives.
enum class spf_qualifier { pass, fail, softfail, neutral };

enum class spf_mechanism_kind { all, include, a, mx, ptr, ip4, ip6, exists };

struct spf_mechanism {
  spf_qualifier qualifier = spf_qualifier::pass;
  spf_mechanism_kind kind = spf_mechanism_kind::all;
  std::string domain_spec;  // include, exists; a, mx and ptr when given (else the current domain)
  int ip4_prefix = 32;      // a, mx, ip4: the CIDR length for IPv4 clients
  int ip6_prefix = 128;     // a, mx, ip6: for IPv6 clients
  std::array<std::uint8_t, 16> network{};  // ip4 (mapped as ::ffff:a.b.c.d), ip6
};

struct spf_record {
  std::vector<spf_mechanism> mechanisms;
  std::optional<std::string> redirect;     // redirect= domain-spec
  std::optional<std::string> explanation;  // exp= domain-spec
};

// A record read, or why it is not one (a syntax error is a permerror, RFC 7208 4.6).
struct spf_parse_result {
  std::optional<spf_record> record;
  std::string error;
};

// Whether a TXT record's text is an SPF record: "v=spf1" alone or followed by a space
// (RFC 7208 4.5).
bool is_spf_record(std::string_view text);

// Reads an SPF record; any syntax error anywhere makes the whole record an error.
spf_parse_result parse_spf_record(std::string_view text);

}  // namespace missive
