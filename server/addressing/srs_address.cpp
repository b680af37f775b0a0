// SRS0 addresses: see srs_address.hpp.
#include "srs_address.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "ascii.hpp"

namespace missive {

namespace {

constexpr std::string_view prefix = "SRS0=";
// RFC 4648 6: the base-32 alphabet; libsrs2 writes the timestamp in it too.
constexpr std::string_view base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::size_t hash_chars = 8;  // 40 bits: forging one takes 2^40 tries per sender
constexpr std::int64_t timestamp_period = 1024;  // two base-32 characters

std::string timestamp(std::int64_t day) {
  auto t = static_cast<std::size_t>(((day % timestamp_period) + timestamp_period) % timestamp_period);
  return {base32[t >> 5], base32[t & 31]};
}

// The value of one base-32 character in any case, or -1.
int base32_value(char c) {
  auto at = base32.find(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

std::string keyed_hash(std::string_view secret, std::string_view stamp, std::string_view domain,
                       std::string_view local) {
  std::string data = lowercase_ascii(stamp);
  data += '=';
  data += lowercase_ascii(domain);
  data += '=';
  data += lowercase_ascii(local);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
  // The first 40 bits, five at a time.
  std::uint64_t bits = 0;
  for (int i = 0; i < 5; ++i) bits = (bits << 8) | mac[static_cast<std::size_t>(i)];
  std::string out;
  for (int i = static_cast<int>(hash_chars) - 1; i >= 0; --i) out += base32[(bits >> (5 * i)) & 31];
  return out;
}

}  // namespace

bool is_srs_local_part(std::string_view local_part) { return istarts_with(local_part, prefix); }

std::string srs_forward(std::string_view local, std::string_view domain,
                        std::string_view secret, std::int64_t day) {
  std::string stamp = timestamp(day);
  std::string out(prefix);
  out += keyed_hash(secret, stamp, domain, local);
  out += '=';
  out += stamp;
  out += '=';
  out += domain;
  out += '=';
  out += local;
  return out;
}

srs_reversal srs_reverse(std::string_view local_part, std::string_view secret, std::int64_t day) {
  srs_reversal out;
  if (!is_srs_local_part(local_part)) return out;
  std::string_view rest = local_part.substr(prefix.size());
  // HASH=TT=domain=local: the domain holds no '=', the original local part may.
  auto first = rest.find('=');
  if (first == std::string_view::npos) return out;
  std::string_view hash = rest.substr(0, first);
  rest.remove_prefix(first + 1);
  if (rest.size() < 3 || rest[2] != '=') return out;
  std::string_view stamp = rest.substr(0, 2);
  rest.remove_prefix(3);
  auto second = rest.find('=');
  if (second == std::string_view::npos || second == 0 || second + 1 == rest.size()) return out;
  std::string_view domain = rest.substr(0, second);
  std::string_view local = rest.substr(second + 1);
  int high = base32_value(stamp[0]), low = base32_value(stamp[1]);
  if (hash.size() != hash_chars || high < 0 || low < 0) return out;
  // The hash first: an attacker learns nothing from which check failed on a forged one.
  if (!iequals(hash, keyed_hash(secret, stamp, domain, local))) {
    out.verdict = srs_verdict::bad_hash;
    return out;
  }
  std::int64_t made = high * 32 + low;
  std::int64_t age = (((day - made) % timestamp_period) + timestamp_period) % timestamp_period;
  // A day ahead is a clock that differs between nodes, not a forgery.
  if (age > srs_max_age_days && age != timestamp_period - 1) {
    out.verdict = srs_verdict::expired;
    return out;
  }
  out.verdict = srs_verdict::valid;
  out.local = std::string(local);
  out.domain = std::string(domain);
  return out;
}

std::string_view srs_problem(srs_verdict verdict) {
  switch (verdict) {
    case srs_verdict::valid: return "valid";
    case srs_verdict::malformed: return "malformed SRS address";
    case srs_verdict::bad_hash: return "SRS address with a bad hash (forged or altered)";
    case srs_verdict::expired: return "SRS address expired";
  }
  return "?";
}

}  // namespace missive
