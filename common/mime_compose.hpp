// Composing an RFC 5322 / MIME message from what a user typed, without I/O: the caller
// supplies the date, the Message-ID and the multipart boundary.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace missive::mime {

// A mailbox as written on a command line: "a@b.test" or "Name <a@b.test>".
struct mailbox {
  std::string display_name;  // UTF-8, may be empty
  std::string address;       // local@domain
};

// Splits "Name <a@b>" or "a@b" into its parts; the address is not validated here.
mailbox split_mailbox(std::string_view text);

// A file attached to a message. A message/rfc822 attachment (a forwarded message) goes as
// it is, 7bit or 8bit, never base64 (RFC 2046 5.2.1); every other type in base64.
struct attachment {
  std::string filename;      // UTF-8, without directories; may be empty for message/rfc822
  std::string content_type;  // "type/subtype"
  std::string data;          // the file's bytes
};

// A header field written after Subject: In-Reply-To and References of a reply.
struct extra_field {
  std::string name;
  std::string value;  // ASCII (msg-ids), folded by the caller if long
};

// What `missive send` composes.
struct outgoing_message {
  mailbox from;
  std::vector<mailbox> to;
  std::vector<mailbox> cc;   // Bcc is never here: it goes in the envelope only
  std::string subject;       // UTF-8
  std::string body;          // UTF-8 text, LF or CRLF line breaks
  std::vector<attachment> attachments;
  std::vector<extra_field> extra_fields;
  std::chrono::system_clock::time_point date;
  std::string message_id;    // without the angle brackets
  std::string boundary;      // for multipart; made unique against the content if needed
};

// The message as RFC 5322 text with CRLF line endings: Date, Message-ID, From, To, Cc,
// Subject (RFC 2047 when not ASCII), the extra fields, MIME-Version, then a text/plain; charset=utf-8 body
// (7bit or quoted-printable) or, with attachments, multipart/mixed with base64 parts.
std::string compose_message(const outgoing_message& message);

// The content type for a file name, from its extension (a small table; case-insensitive);
// "application/octet-stream" for anything else.
std::string guess_content_type(std::string_view filename);

}  // namespace missive::mime
