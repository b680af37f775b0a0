// Fuzzes the client's MIME reader (common/mime_parse.hpp) and the decoders under it
// (common/mime_encoding.hpp): quoted-printable, base64 body text, RFC 2047 encoded-words and
// charset conversion. The client runs these on whatever a POP3 server hands it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ascii.hpp"
#include "fuzz_check.hpp"
#include "mime_encoding.hpp"
#include "mime_parse.hpp"

using namespace missive;
using namespace missive::fuzz;

namespace {

// `text` with every LF that has no CR before it made CRLF: what quoted-printable's line
// breaks come back as.
std::string lf_to_crlf(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

void check_decoders(std::string_view input) {
  // Decoding never grows the text beyond what its encoding allows.
  FUZZ_CHECK(mime::quoted_printable_decode(input).size() <= input.size());
  FUZZ_CHECK(mime::base64_decode_lenient(input).size() <= input.size() * 3 / 4 + 2);
  // Round trips through the encoders the client composes with.
  FUZZ_CHECK(mime::base64_decode_lenient(mime::base64_encode_lines(input)) == input);
  FUZZ_CHECK(mime::quoted_printable_decode(mime::quoted_printable_encode(input)) ==
             lf_to_crlf(input));
  const std::string crlf = mime::to_crlf(input);
  FUZZ_CHECK(mime::to_crlf(crlf) == crlf);

  (void)mime::decode_header_value(input);

  // Charset conversion: what comes out of a charset iconv knows is UTF-8.
  static constexpr std::string_view charsets[] = {
      "", "utf-8", "us-ascii", "iso-8859-1", "windows-1252", "utf-16", "iso-2022-jp", "gb18030",
      "koi8-r", "x-unknown"};
  const std::string_view charset =
      charsets[input.empty() ? 0 : static_cast<unsigned char>(input[0]) % std::size(charsets)];
  if (auto utf8 = mime::to_utf8(input, charset)) FUZZ_CHECK(valid_utf8(*utf8));
}

void check_message(std::string_view input) {
  const mime::message_view view = mime::parse_message(input);
  // The text is shown on a terminal with LF line breaks only.
  FUZZ_CHECK(view.text.find('\r') == std::string::npos);
  for (const auto& attachment : view.attachments) {
    FUZZ_CHECK(attachment.size <= input.size());
    FUZZ_CHECK(!attachment.content_type.empty());
  }

  // The pieces parse_message is made of, each on the raw input as a field value.
  (void)mime::parse_header_fields(input);
  // Type, subtype and parameter names come out lowercased (RFC 2045 5.1: case-insensitive).
  for (const mime::content_type& type :
       {mime::parse_content_type(input), mime::parse_disposition(input)}) {
    FUZZ_CHECK(lowercase_ascii(type.type) == type.type);
    FUZZ_CHECK(lowercase_ascii(type.subtype) == type.subtype);
    for (const auto& [name, value] : type.parameters) FUZZ_CHECK(lowercase_ascii(name) == name);
  }
  (void)mime::parse_address_list(input);
  (void)mime::parse_rfc5322_date(input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = as_text(data, size);
  check_message(input);
  check_decoders(input);
  return 0;
}
