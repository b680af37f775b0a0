// The organizational domain of a name (RFC 7489 3.2): its registrable domain, one label
// below a public suffix, from the Public Suffix List that Debian's publicsuffix package
// installs, read through libpsl.
#pragma once

#include <string>
#include <string_view>

namespace missive {

// "mail.example.co.uk" → "example.co.uk"; a name that is itself a public suffix (or that the
// list cannot place) is its own organizational domain. Lower case, no trailing dot.
std::string organizational_domain(std::string_view domain);

}  // namespace missive
