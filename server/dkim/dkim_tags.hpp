// DKIM's tag=value lists (RFC 6376 3.2), as in the DKIM-Signature field and the key record,
// parsed without I/O, and the two things built of them a verifier needs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

// Tags by name with their values, blanks removed at both ends (and from inside b= and bh=
// and p=, whose base64 may be folded); nullopt for a malformed list or a tag given twice.
std::optional<std::map<std::string, std::string>> parse_dkim_tags(std::string_view text);

// A DKIM-Signature field's tags, checked (RFC 6376 3.5, 6.1.1).
struct dkim_signature_tags {
  std::string algorithm;                  // a=: "rsa-sha256" or "ed25519-sha256"
  std::string signature;                  // b=, decoded
  std::string body_hash;                  // bh=, decoded
  bool relaxed_header = false, relaxed_body = false;  // c=
  std::string domain;                     // d=, lower case
  std::string selector;                   // s=
  std::vector<std::string> header_names;  // h=, lower case, in order
  std::optional<std::int64_t> expires;    // x=
};

// The tags of a DKIM-Signature field's value, or why it cannot be verified (a permanent
// error, RFC 6376 6.1.1): a missing or malformed tag, v= not 1, an unknown algorithm or
// canonicalization, h= without From, an i= outside d=.
struct parsed_dkim_signature {
  std::optional<dkim_signature_tags> tags;
  std::string error;
};
parsed_dkim_signature parse_dkim_signature(std::string_view value);

// A key record (RFC 6376 3.6.1), or why it cannot be used.
struct dkim_public_key {
  std::string key_type = "rsa";  // k=
  std::string key_data;          // p=, decoded; empty: revoked
  std::string error;             // set when the record is unusable
};
dkim_public_key parse_dkim_key_record(std::string_view record);

}  // namespace missive
