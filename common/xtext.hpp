// xtext (RFC 3461 4): the encoding of the DSN parameters ENVID and ORCPT, in which "+" and
// two upper-case hex digits stand for one octet. No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace missive {

// Decodes `text`; nullopt when it is not xtext: an octet outside "!".."~", "=" (which
// xchar excludes), or "+" not followed by two of 0-9 A-F (RFC 3461 4 writes the hex
// digits upper-case only).
std::optional<std::string> xtext_decode(std::string_view text);

// Encodes `text` as xtext: "+", "=" and every octet outside "!".."~" become "+XX".
std::string xtext_encode(std::string_view text);

}  // namespace missive
