// The SASL PLAIN message (RFC 4616 2), decoded without I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace missive {

// The three parts of a PLAIN message: authorization identity, user, password.
struct sasl_plain_credentials {
  std::string authzid;
  std::string authcid;
  std::string password;
};

// Decodes the base64 PLAIN response "authzid NUL authcid NUL passwd"; nullopt when the base64
// is bad, there are not exactly two NULs, or the user or password is empty.
std::optional<sasl_plain_credentials> decode_sasl_plain(std::string_view base64_text);

}  // namespace missive
