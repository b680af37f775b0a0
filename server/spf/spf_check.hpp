// The SPF check (RFC 7208 4, check_host()): whether a client may send mail for a domain,
// asked of DNS through a dns_source (the relay's resolver, or a table of records in the
// RFC 7208 test suite).
#pragma once

#include <asio/awaitable.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace missive {

class dns_source;

struct spf_result {
  // RFC 7208 2.6's results, in RFC 8601's words.
  enum class kind { none, neutral, pass, fail, softfail, temperror, permerror };
  kind outcome = kind::none;
  std::string explanation;  // for a fail: the domain's exp= text, or ours (RFC 7208 6.2)
  std::string reason;       // why, for logs: the matching term, or the error
};

// RFC 8601's name of a result ("pass", "softfail", ...).
std::string_view result_name(spf_result::kind outcome);

// Who is asking, and for which identity (RFC 7208 2.3, 2.4).
struct spf_identity {
  std::array<std::uint8_t, 16> client{};  // IPv4 held mapped (::ffff:a.b.c.d)
  std::string sender;  // local-part@domain; a null sender is checked as postmaster@HELO
  std::string domain;  // what check_host() starts from: the sender's domain, or the HELO name
  std::string helo;
  std::string receiver;  // this relay's name (%{r})
  std::int64_t now = 0;
};

// The MAIL FROM identity of `sender` (empty for the null sender, RFC 7208 2.4).
spf_identity mail_from_identity(const std::array<std::uint8_t, 16>& client, std::string_view sender,
                                std::string_view helo, std::string_view receiver, std::int64_t now);

// The HELO identity (RFC 7208 2.3).
spf_identity helo_identity(const std::array<std::uint8_t, 16>& client, std::string_view helo,
                           std::string_view receiver, std::int64_t now);

// check_host() for `identity`, with RFC 7208 4.6.4's limits: 10 terms that ask DNS, 2 void
// lookups, 10 MX and 10 PTR names. A DNS error is temperror, never a permanent result.
asio::awaitable<spf_result> check_spf(dns_source& dns, const spf_identity& identity);

}  // namespace missive
