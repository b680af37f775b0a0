// Base64 (RFC 4648 4) for SASL exchanges and stored password hashes. No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace missive {

// Encodes bytes as padded base64 without line breaks.
std::string base64_encode(std::string_view bytes);

// Decodes padded base64; nullopt for any character outside the alphabet, bad padding or
// a length that is not a multiple of four. "" decodes to "".
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace missive
