// Protocol limits, each with the RFC section that sets it. Config may raise or lower
// the ones that are policy (message size, recipients, timeouts); these are the protocol's.
#pragma once

#include <cstddef>

namespace missive::limits {

// RFC 5321 4.5.3.1.4: a command line, including the verb and the CRLF.
inline constexpr std::size_t smtp_command_line = 512;
// RFC 5321 4.5.3.1.6: a line of message text, including the CRLF.
inline constexpr std::size_t smtp_text_line = 1000;
// RFC 5321 4.5.3.1.1: the local part of an address.
inline constexpr std::size_t local_part = 64;
// RFC 5321 4.5.3.1.2: a domain name or address literal.
inline constexpr std::size_t domain = 255;
// RFC 5321 4.5.3.1.3: a reverse-path or forward-path, including the angle brackets.
inline constexpr std::size_t path = 256;
// RFC 5321 4.5.3.1.5: a reply line, including the code and the CRLF.
inline constexpr std::size_t smtp_reply_line = 512;
// RFC 5321 6.3: more Received: headers than this means the message is looping.
inline constexpr std::size_t max_received_headers = 50;
// RFC 2449 4: a POP3 command line, including the CRLF.
inline constexpr std::size_t pop3_command_line = 255;
// RFC 1939 3: a POP3 command argument.
inline constexpr std::size_t pop3_argument = 40;
// RFC 5034 4: a POP3 AUTH continuation line may be longer than a command line.
inline constexpr std::size_t pop3_auth_line = 1024 + 2;
// POP3 read-ahead (not an RFC limit; a memory bound): a RETR or TOP also reads up to this
// many of the following messages, as long as they add up to no more than
// pop3_read_ahead_octets, and keeps them for the next commands of the session.
inline constexpr std::size_t pop3_read_ahead_messages = 64;
inline constexpr std::size_t pop3_read_ahead_octets = 256 * 1024;
// POP3 replies waiting for the client's next pipelined command (RFC 2449 6.6) are sent once
// they reach this many octets: pipelined RETRs never pile up whole messages in memory.
inline constexpr std::size_t pop3_reply_batch = 64 * 1024;

}  // namespace missive::limits
