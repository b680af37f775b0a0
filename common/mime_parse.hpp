// Reading a fetched message for display, without I/O: header fields, the MIME tree
// (RFC 2045, 2046), the text part decoded to UTF-8, and the attachments it carries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace missive::mime {

// One header field: its name as written and its raw value (folding kept, leading space removed).
struct header_field {
  std::string name;
  std::string value;
};

// The fields of a header section (up to the first empty line).
std::vector<header_field> parse_header_fields(std::string_view header_section);

// The value of the first field named `name` (case-insensitive), if any.
std::optional<std::string> find_field(const std::vector<header_field>& fields, std::string_view name);

// A Content-Type (RFC 2045 5.1): type and subtype lowercased, parameter names lowercased,
// values unquoted and RFC 2231-decoded (continuations joined, charset converted).
struct content_type {
  std::string type = "text";
  std::string subtype = "plain";
  std::map<std::string, std::string> parameters;

  // "type/subtype".
  std::string mime_type() const { return type + "/" + subtype; }
};

// Parses a Content-Type value; text/plain when it is missing or unreadable (RFC 2045 5.2).
content_type parse_content_type(std::string_view value);

// Parses a Content-Disposition value the same way: the disposition is in `type`.
content_type parse_disposition(std::string_view value);

// An attachment found in a message.
struct attachment_info {
  std::string filename;      // UTF-8; "" when the part has none
  std::string content_type;  // "type/subtype"
  std::size_t size = 0;      // decoded octets
  std::string data;          // the decoded octets, for `missive read --save`
};

// What `missive read` shows of a message.
struct message_view {
  std::string from, to, cc, date, subject;  // decoded to UTF-8, unfolded
  std::string text;                          // the text part in UTF-8, LF line breaks
  std::vector<attachment_info> attachments;
};

// Nesting deeper than this is not walked (a hostile message cannot exhaust the stack).
inline constexpr int max_mime_depth = 16;

// Parses a whole message (CRLF or LF line breaks).
message_view parse_message(std::string_view raw);

// The addresses ("local@domain") of an address-list field value (RFC 5322 3.4): display
// names, comments, quoted strings and groups ("undisclosed-recipients:;") understood.
std::vector<std::string> parse_address_list(std::string_view value);

// Parses an RFC 5322 3.3 date-time ("Sat, 21 Nov 2026 18:49:00 +0000", day name and seconds
// optional, obsolete zone names as UTC) to unix seconds; nullopt when unreadable.
std::optional<std::int64_t> parse_rfc5322_date(std::string_view text);

}  // namespace missive::mime
