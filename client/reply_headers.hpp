// Who a reply goes to and the fields that tie it to the original (RFC 5322 3.6.4), and the
// subject and quoted text of replies and forwards. Pure: the original's header fields in,
// values out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mime_parse.hpp"

namespace missive::client {

// The addressing and threading fields of a reply.
struct reply_fields {
  std::vector<std::string> to;  // addresses
  std::vector<std::string> cc;  // addresses (--all), never the user, never one already in To
  std::string subject;          // "Re: " once before the original's subject
  std::string in_reply_to;      // "<id>" of the original; "" when it had no Message-ID
  std::string references;       // the original's References (else its In-Reply-To), then its id
};

// The reply to the message with header `fields`, from `self` (the user's address). To: the
// Reply-To addresses, else From (RFC 5322 3.6.2). `all`: also the original's To and Cc,
// except `self` and duplicates (addresses compared without regard to case).
reply_fields compose_reply_fields(const std::vector<mime::header_field>& fields,
                                  std::string_view self, bool all);

// "Re: subject", without a second "Re:" when the subject has one (any case).
std::string reply_subject(std::string_view subject);

// "Fwd: subject", without a second "Fwd:".
std::string forward_subject(std::string_view subject);

// `text` with "> " before each line ('>' alone before an empty one), LF line breaks: the
// quoted original under a reply.
std::string quote_text(std::string_view text);

}  // namespace missive::client
