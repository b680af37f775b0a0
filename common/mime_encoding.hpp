// MIME encodings (RFC 2045, 2047, 2231) and charset conversion, without I/O: what
// `missive` needs to compose messages and to show the ones it fetched.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace missive::mime {

// RFC 2045 6.7 (5): an encoded line is at most 76 characters, the CRLF not counted.
inline constexpr std::size_t max_encoded_line = 76;
// RFC 5322 2.1.1: header lines SHOULD be at most 78 characters, the CRLF not counted.
inline constexpr std::size_t max_header_line = 78;
// RFC 5322 2.1.1: no line may be longer than 998 characters, the CRLF not counted.
inline constexpr std::size_t max_line = 998;

// Whether every octet is 7-bit ASCII.
bool is_ascii(std::string_view text);

// Whether `text` (LF or CRLF line breaks) can go as 7bit (RFC 2045 2.7): ASCII, no NUL, no
// bare CR, no line over 998 characters.
bool is_7bit_safe(std::string_view text);

// Converts every line break (LF, CRLF, or a lone CR) to CRLF.
std::string to_crlf(std::string_view text);

// Quoted-printable (RFC 2045 6.7) of text: line breaks (LF or CRLF) become CRLF, lines are
// soft-broken to at most 76 characters, trailing white space is encoded.
std::string quoted_printable_encode(std::string_view text);

// Decodes quoted-printable; malformed '=' sequences are kept as they are (RFC 2045 6.7 note).
std::string quoted_printable_decode(std::string_view text);

// Base64 in lines of 76 characters, each ending in CRLF (RFC 2045 6.8).
std::string base64_encode_lines(std::string_view bytes);

// Decodes base64 body text, ignoring line breaks and any character outside the alphabet
// (RFC 2045 6.8); stops at the padding.
std::string base64_decode_lenient(std::string_view text);

// A whole header field "Name: value\r\n" with the value folded under 78 columns at white
// space; a value that is not ASCII is written as RFC 2047 encoded-words (UTF-8, base64),
// each at most 75 characters and never splitting a UTF-8 character.
std::string encode_unstructured_field(std::string_view name, std::string_view value);

// A display name as an RFC 5322 phrase: as is when it is atoms, quoted when it has
// specials, RFC 2047 encoded-words when not ASCII.
std::string encode_phrase(std::string_view display_name);

// Decodes the RFC 2047 encoded-words in a header value (B and Q, any charset iconv knows)
// to UTF-8 and unfolds it; white space between adjacent encoded-words is dropped (6.2).
// Undecodable words are left as they are.
std::string decode_header_value(std::string_view value);

// A MIME parameter `name="value"`; RFC 2231 `name*=utf-8''percent-encoded` when the value
// is not ASCII.
std::string encode_parameter(std::string_view name, std::string_view value);

// Converts `bytes` in `charset` to UTF-8 with iconv; nullopt when the charset is unknown.
// Invalid sequences become U+FFFD. "us-ascii", "utf-8" and "" are checked, not converted.
std::optional<std::string> to_utf8(std::string_view bytes, std::string_view charset);

}  // namespace missive::mime
