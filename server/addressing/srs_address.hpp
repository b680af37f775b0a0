// The Sender Rewriting Scheme's SRS0 addresses, as forwarders commonly write them
// (libsrs2, postsrsd): a forwarded message's envelope sender becomes an address of ours
// that carries the original sender, a keyed hash and the day, so the next hop's SPF check
// sees our domain (RFC 7208 11.3 names forwarding as what breaks SPF), and a bounce to it
// finds its way back to the original sender, while a forged one does not. No I/O: the
// secret and the day are given.
//
//   SRS0=HHHHHHHH=TT=orig-domain=orig-local@our-domain
//
// HHHHHHHH: the first 40 bits of HMAC-SHA256(secret, lower-case "TT=orig-domain=orig-local")
// in base 32 (RFC 4648 6), so a relay that changes the case of the address does not break
// it; TT: the day number (unix time / 86400) modulo 1024, two base-32 characters.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace missive {

// How many days an SRS address is honoured after it was made (libsrs2's default).
inline constexpr std::int64_t srs_max_age_days = 21;

// The day number an SRS timestamp counts: whole days since the unix epoch.
constexpr std::int64_t srs_day(std::int64_t unix_seconds) { return unix_seconds / 86400; }

// Whether a local part is an SRS0 address's (any case), to be checked by srs_reverse.
bool is_srs_local_part(std::string_view local_part);

// The SRS0 local part for the sender `local`@`domain`, made with `secret` on `day`.
std::string srs_forward(std::string_view local, std::string_view domain,
                        std::string_view secret, std::int64_t day);

// What checking an SRS0 local part found.
enum class srs_verdict {
  valid,
  malformed,  // SRS0= but not the four fields
  bad_hash,   // not made with our secret (forged, or altered)
  expired,    // older than srs_max_age_days, or from the future
};

// An SRS0 local part taken apart: the original sender, when the verdict is valid.
struct srs_reversal {
  srs_verdict verdict = srs_verdict::malformed;
  std::string local;
  std::string domain;
};

// Checks and decodes an SRS0 local part against `secret` on `day` (the hash in any case).
srs_reversal srs_reverse(std::string_view local_part, std::string_view secret, std::int64_t day);

// What a verdict means, for a reply text ("forged", "expired", ...).
std::string_view srs_problem(srs_verdict verdict);

}  // namespace missive
