// SPF macros (RFC 7208 7): checking a macro-string's syntax and expanding it for one check.
// Without I/O: the one value that needs DNS (%{p}, the validated name of the client) is
// looked up by the caller beforehand.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace missive {

// What the macros of one check_host() expand to.
struct spf_macro_values {
  std::string sender;           // %{s}: local-part@domain (postmaster@HELO for a null sender)
  std::string local_part;       // %{l}
  std::string sender_domain;    // %{o}
  std::string domain;           // %{d}: the domain being checked (changes in include/redirect)
  std::array<std::uint8_t, 16> client{};  // %{i} %{c} %{v}: IPv4 held mapped (::ffff:a.b.c.d)
  std::string helo;             // %{h}
  std::string validated_name = "unknown";  // %{p}
  std::string receiver;         // %{r}: this relay's host name
  std::int64_t now = 0;         // %{t}: Unix time
};

// Where a macro-string appears: c, r and t are for explanations only (RFC 7208 7.1).
enum class macro_use { domain_spec, explanation };

// Whether `text` is a macro-string (RFC 7208 7.1): literals %x21-24 / %x26-7E (and spaces in
// an explanation), and %{…}, %%, %_ and %- expansions.
bool valid_macro_string(std::string_view text, macro_use use);

// Whether `text` is a domain-spec (RFC 7208 7.1): a macro-string ending in a macro
// expansion or in "." toplabel, with an optional trailing dot.
bool valid_domain_spec(std::string_view text);

// Whether `text` uses %{p}, which needs the client's validated name.
bool uses_validated_name(std::string_view text);

// `text` (valid for `use`) with its macros expanded.
std::string expand_macros(std::string_view text, const spf_macro_values& values, macro_use use);

// A domain-spec's expansion as a name to look up (RFC 7208 4.8): without a trailing dot, and
// cut down to 253 octets by dropping labels from the left.
std::string target_name(std::string expanded);

}  // namespace missive
