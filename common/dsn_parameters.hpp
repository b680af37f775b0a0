// The DSN extension's MAIL and RCPT parameters (RFC 3461 4): RET, ENVID, NOTIFY and ORCPT,
// parsed and checked without I/O, and what a recipient's NOTIFY asks for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace missive {

// MAIL RET= (RFC 3461 4.3): what a failure DSN returns of the message.
enum class dsn_return : std::uint8_t {
  unspecified = 0,  // no RET: the relay's choice (Missive returns the headers only)
  full = 1,         // RET=FULL: the whole message, as message/rfc822
  headers = 2,      // RET=HDRS: the header section, as text/rfc822-headers
};

// RCPT NOTIFY= (RFC 3461 4.1) as flags; 0 when the client gave no NOTIFY.
namespace dsn_notify {
inline constexpr std::uint8_t success = 1;
inline constexpr std::uint8_t failure = 2;
inline constexpr std::uint8_t delay = 4;
inline constexpr std::uint8_t never = 8;
}  // namespace dsn_notify

// What a DSN would report of a recipient.
enum class dsn_event { success, failure, delay };

// Whether a recipient whose NOTIFY is `notify` (0: none given) is to be told of `event`.
// RFC 3461 4.1: without NOTIFY, FAILURE and DELAY are implied (no success notices); NEVER
// asks for nothing.
bool notify_wants(std::uint8_t notify, dsn_event event);

// Parses a NOTIFY value: "NEVER" alone, or a comma-separated list of SUCCESS, FAILURE and
// DELAY (any case, each at most once); nullopt when malformed.
std::optional<std::uint8_t> parse_notify(std::string_view value);

// The NOTIFY parameter's value for `notify` (not 0), to pass on to a next hop.
std::string format_notify(std::uint8_t notify);

// Parses a RET value, FULL or HDRS (any case); nullopt for anything else.
std::optional<dsn_return> parse_ret(std::string_view value);

// Decodes an ENVID value (RFC 3461 4.4): xtext of at most 100 characters whose decoded
// octets are printable US-ASCII (graphic characters and space); nullopt otherwise.
std::optional<std::string> parse_envid(std::string_view value);

// An ORCPT value decoded (RFC 3461 4.2): the address type as given and the address with
// its xtext undone.
struct original_recipient {
  std::string type;     // an atom, "rfc822" for Internet mail
  std::string address;  // decoded
};

// Parses an ORCPT value "addr-type;xtext": the type an RFC 5322 atom, the xtext valid and
// decoded to printable US-ASCII, the whole at most 500 characters (RFC 3461 4.2); for
// type rfc822 (any case) the address must be a mailbox, local@domain. nullopt otherwise.
std::optional<original_recipient> parse_orcpt(std::string_view value);

// "type;xtext": an ORCPT as stored and passed on to a next hop.
std::string format_orcpt(const original_recipient& orcpt);

}  // namespace missive
