// The SASL PLAIN message (RFC 4616 2).
#include "sasl_plain.hpp"

#include <algorithm>

#include "base64.hpp"

namespace missive {

std::optional<sasl_plain_credentials> decode_sasl_plain(std::string_view base64_text) {
  auto decoded = base64_decode(base64_text);
  // RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd.
  if (!decoded || std::count(decoded->begin(), decoded->end(), '\0') != 2) return std::nullopt;
  std::string_view message = *decoded;
  auto first = message.find('\0');
  auto second = message.find('\0', first + 1);
  sasl_plain_credentials credentials{std::string(message.substr(0, first)),
                                     std::string(message.substr(first + 1, second - first - 1)),
                                     std::string(message.substr(second + 1))};
  if (credentials.authcid.empty() || credentials.password.empty()) return std::nullopt;
  return credentials;
}

}  // namespace missive
