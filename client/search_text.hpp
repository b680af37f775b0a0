// What full-text search indexes of a message: its fields and body decoded to UTF-8 text,
// without I/O, so that a word is found whatever the transfer encoding or charset it went in.
#pragma once

#include <string>
#include <string_view>

namespace missive::client {

// The text of one message, one member per column of message_search (003_search.sql).
struct search_document {
  std::string sender;      // From, RFC 2047-decoded
  std::string recipients;  // To and Cc, decoded
  std::string subject;     // Subject, decoded
  std::string body;        // the text part (base64 / quoted-printable and charset decoded by
                           // mime_parse), then the attachments' file names
};

// The document of the raw message `raw`.
search_document make_search_document(std::string_view raw);

}  // namespace missive::client
