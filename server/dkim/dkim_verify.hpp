// Verifying the DKIM signatures of an inbound message (RFC 6376 6), with keys asked of the
// relay's resolver: one result per DKIM-Signature field, for Authentication-Results.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

class dns_source;

struct dkim_result {
  // RFC 8601 2.7.1's words for DKIM.
  enum class kind { pass, fail, temperror, permerror };
  kind outcome = kind::permerror;
  std::string domain;    // d=, when the field could be read
  std::string selector;  // s=
  std::string b_prefix;  // the first octets of b= (RFC 6008), to tell signatures apart
  std::string reason;    // why not pass
};

// RFC 8601's name of an outcome ("pass", "fail", ...).
std::string_view result_name(dkim_result::kind outcome);

// Verifies at most `limit` DKIM-Signature fields of the message whose header section is
// `headers` and body `body` (hashed in place, once per canonicalization, on `hashing` when
// given: a large body is not hashed on the caller's thread), at Unix time `now`. A key that
// cannot be fetched for now is temperror; l= is not honoured (the whole body is hashed), so
// content appended after a signed length fails.
asio::awaitable<std::vector<dkim_result>> verify_dkim(dns_source& dns, std::string_view headers,
                                                      std::string_view body, std::int64_t now,
                                                      asio::thread_pool* hashing = nullptr,
                                                      std::size_t limit = 5);

// The DKIM-Signature field `field_text` with the value of its b= tag removed (RFC 6376 3.7).
std::string without_signature_value(std::string_view field_text);

}  // namespace missive
