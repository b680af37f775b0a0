// DKIM's "relaxed" canonicalization (RFC 6376 3.4.2, 3.4.4) and the body hash over it,
// without I/O: the header fields a signature covers, and a SHA-256 of the body fed in pieces,
// so that a message of 25 MiB is hashed where it lies, never copied.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

// One header field as it appears in a message: its name, and its whole text from the name
// to the CRLF that ends it (continuation lines included).
struct header_field {
  std::string_view name;
  std::string_view text;
};

// The header fields of a header section (CRLF or LF line ends; stops at the empty line).
std::vector<header_field> split_header_fields(std::string_view header_section);

// RFC 6376 3.4.2: the field's name in lower case, unfolded, runs of blanks made one space,
// no blanks at the end of the value or around the colon; ends with CRLF.
std::string relaxed_header(std::string_view field_text);

// RFC 6376 3.4.4: SHA-256 of the relaxed body, fed in pieces of any size.
class relaxed_body_hash {
 public:
  relaxed_body_hash();
  ~relaxed_body_hash();
  relaxed_body_hash(const relaxed_body_hash&) = delete;
  relaxed_body_hash& operator=(const relaxed_body_hash&) = delete;

  void update(std::string_view piece);
  // The 32-octet digest; the body ends here.
  std::string finish();

 private:
  void line_done();
  struct digest;
  std::unique_ptr<digest> digest_;
  std::string line_;                 // the current line, blanks already collapsed
  bool pending_blank_ = false;       // a blank run not yet written (dropped at line end)
  std::size_t empty_lines_ = 0;      // empty lines held back: dropped if the body ends
};

}  // namespace missive
