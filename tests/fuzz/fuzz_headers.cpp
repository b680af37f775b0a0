// Fuzzes the header-section reader (common/message_headers.hpp) the relay uses for loop
// detection and POP3 TOP, and the bounce composer (server/bounce_message.hpp) that quotes
// those headers and a remote server's reply back to a sender.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "bounce_message.hpp"
#include "fuzz_check.hpp"
#include "message_headers.hpp"

using namespace missive;
using namespace missive::fuzz;

namespace {

// Occurrences of CRLF in `text`.
std::size_t count_crlf(std::string_view text) {
  std::size_t count = 0;
  for (auto at = text.find("\r\n"); at != std::string_view::npos; at = text.find("\r\n", at + 2))
    ++count;
  return count;
}

// Whether `text` is made of CRLF lines of at most 998 octets with no other control octet
// than HTAB (RFC 5322 2.1.1, 2.2): what a bounce built from hostile parts must still be.
bool clean_lines(std::string_view text) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r') {
      if (i + 1 >= text.size() || text[i + 1] != '\n') return false;
      ++i;
      line = 0;
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
    if (++line > 998) return false;
  }
  return text.ends_with("\r\n");
}

void check_headers(std::string_view message) {
  const std::string_view headers = header_section(message);
  FUZZ_CHECK(message.starts_with(headers));
  FUZZ_CHECK(headers == message || headers == "\r\n" || headers.ends_with("\r\n\r\n"));
  // The section ends at the first empty line, so none comes earlier.
  if (headers.size() > 4) {
    FUZZ_CHECK(headers.substr(0, headers.size() - 1).find("\r\n\r\n") == std::string_view::npos);
  }

  const header_summary summary = scan_headers(message);
  const header_summary again = scan_headers(headers);
  FUZZ_CHECK(summary.has_message_id == again.has_message_id && summary.has_date == again.has_date &&
             summary.received_count == again.received_count &&
             summary.starts_with_header == again.starts_with_header);
  FUZZ_CHECK(summary.received_count <= count_crlf(headers) + 1);

  // TOP n: a prefix of the body, at most n lines, growing with n.
  const std::string_view body = message.substr(headers.size());
  std::size_t previous = 0;
  for (std::size_t lines : {0, 1, 2, 3, 10, 1000}) {
    const std::string_view top = first_body_lines(message, lines);
    FUZZ_CHECK(within(top, message));
    FUZZ_CHECK(body.starts_with(top));
    FUZZ_CHECK(count_crlf(top) <= lines);
    FUZZ_CHECK(top.size() >= previous);
    previous = top.size();
  }
  FUZZ_CHECK(first_body_lines(message, 0).empty());
}

void check_bounce(std::string_view input) {
  // Every field is cut short by the composer anyway; a shorter piece keeps the target fast
  // under coverage instrumentation, which costs most in the composer's per-octet loops.
  const std::string_view piece = input.substr(0, 1024);
  const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  bounce_details details;
  details.reporting_mta = std::string(piece.substr(0, 300));
  details.queue_id = "QID";
  details.original_sender = std::string(piece);
  details.arrival = when;
  details.now = when;
  details.recipients.push_back({std::string(piece), "5.1.1", std::string(piece), true, when});
  details.recipients.push_back({"b@example.test", "4.4.7", std::string(piece), false, when});
  details.message_id = std::string(piece);
  details.boundary = "fuzz-boundary";

  // Everything a next hop or a sender chose is sanitised: the bounce is clean CRLF lines.
  details.original_message = "";
  FUZZ_CHECK(clean_lines(compose_bounce(details)));
  // The original headers go back as they are; only memory safety is asked of them.
  details.original_message = input;
  const std::string bounce = compose_bounce(details);
  FUZZ_CHECK(bounce.ends_with("--fuzz-boundary--\r\n"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = as_text(data, size);
  check_headers(input);
  check_bounce(input);
  return 0;
}
