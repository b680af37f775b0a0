// POP3 command lines (RFC 1939 3, RFC 2449, RFC 5034) parsed without I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace missive {

// The verbs the POP3 server knows; `unknown` for anything else.
enum class pop3_verb { user, pass, apop, auth, capa, stls, stat, list, retr, dele, noop,
                       rset, top, uidl, quit, unknown };

// A command line split into its verb and arguments.
struct pop3_command {
  pop3_verb verb = pop3_verb::unknown;
  // Arguments split on single spaces. For PASS the whole rest of the line is one argument,
  // since passwords may contain spaces (RFC 1939 7, note on PASS).
  std::vector<std::string_view> arguments;
  // Whether the line is malformed: an argument longer than limits::pop3_argument (except
  // PASS's and AUTH's), an empty argument from doubled spaces, or a control character.
  bool malformed = false;
};

// Splits a command line (without its CRLF) into verb and arguments; verbs are
// case-insensitive (RFC 1939 3).
pop3_command parse_pop3_command(std::string_view line);

// Parses a message number: decimal digits only, 1 or more, no sign, no overflow
// (so "0", "-1", "1x", "" and "99999999999" are all refused).
std::optional<std::uint32_t> parse_message_number(std::string_view text);

// Parses a non-negative line count for TOP: decimal digits only, no overflow.
std::optional<std::uint32_t> parse_line_count(std::string_view text);

}  // namespace missive
