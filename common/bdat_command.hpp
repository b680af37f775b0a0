// The argument of BDAT (RFC 3030 2): "chunk-size [LAST]", parsed without I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "data_reader.hpp"

namespace missive {

// A BDAT command's argument.
struct bdat_arguments {
  std::uint64_t size = 0;  // octets of the chunk that follows the command line
  bool last = false;       // the chunk ends the message
};

// Parses "chunk-size [SP end-marker]" (RFC 3030 2: chunk-size = 1*DIGIT, end-marker =
// "LAST", any case). nullopt when malformed or when the size has more than 20 digits or
// exceeds 64 bits: then where the chunk ends is unknown, and the session cannot go on.
std::optional<bdat_arguments> parse_bdat(std::string_view argument);

// Checks the data of a message sent with BDAT: without BODY=BINARYMIME (which Missive does
// not offer) it is text, lines ending in CRLF (RFC 3030 3), as DATA's are. The same limits
// as data_reader: no bare CR or LF (the next hop may get the message over DATA, where they
// smuggle), no NUL, lines of at most limits::smtp_text_line octets with the CRLF.
data_error check_bdat_text(std::string_view data);

}  // namespace missive
