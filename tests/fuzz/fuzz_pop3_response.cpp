// Fuzzes the client's POP3 response parser (the sans-IO half of common/pop3_client.hpp): it
// reads what a possibly hostile server says, so it must keep to its limits, take the same
// response however the bytes are cut, and give back a body that dot-stuffing reproduces.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dot_stuffing.hpp"
#include "fuzz_check.hpp"
#include "pop3_client.hpp"

using namespace missive;
using namespace missive::fuzz;

namespace {

// What a parser ended with.
struct outcome {
  std::size_t consumed = 0;
  bool done = false;
  pop3_parse_error error = pop3_parse_error::none;
  pop3_response::status kind = pop3_response::status::ok;
  std::string text;
  std::string body;

  // After an error the connection is closed, so how much of the failing read was taken
  // does not matter (and depends on where the read ended); before one it must agree.
  bool operator==(const outcome& other) const {
    return done == other.done && error == other.error && kind == other.kind &&
           text == other.text && body == other.body &&
           (error != pop3_parse_error::none || consumed == other.consumed);
  }
};

template <typename Pieces>
outcome run(const pop3_parser_limits& limits, bool multiline, const Pieces& pieces) {
  pop3_response_parser parser(limits);
  parser.expect(multiline);
  outcome result;
  for (std::string_view piece : pieces) {
    if (parser.done() || parser.error() != pop3_parse_error::none) break;
    std::size_t consumed = parser.feed(piece);
    FUZZ_CHECK(consumed <= piece.size());
    FUZZ_CHECK(consumed == piece.size() || parser.done() ||
               parser.error() != pop3_parse_error::none);
    result.consumed += consumed;
  }
  result.done = parser.done();
  result.error = parser.error();
  FUZZ_CHECK(!(result.done && result.error != pop3_parse_error::none));
  if (result.done) {
    const pop3_response& response = parser.response();
    result.kind = response.kind;
    result.text = response.text;
    result.body = response.body;
    FUZZ_CHECK(response.text.size() <= limits.status_line);
    FUZZ_CHECK(response.text.find('\n') == std::string::npos);
    FUZZ_CHECK(response.body.size() <= limits.body);
    FUZZ_CHECK(response.body.empty() || (multiline && response.ok()));
    FUZZ_CHECK(response.body.empty() || response.body.ends_with("\r\n"));
  }
  return result;
}

void check(std::string_view input, const pop3_parser_limits& limits, bool multiline) {
  const std::string_view whole_pieces[] = {input};
  const outcome whole = run(limits, multiline, whole_pieces);
  FUZZ_CHECK(whole.consumed <= input.size());

  const std::size_t at = split_offset(input);
  const std::string_view split_pieces[] = {input.substr(0, at), input.substr(at)};
  FUZZ_CHECK(run(limits, multiline, split_pieces) == whole);
  if (input.size() <= 4096) {
    std::vector<std::string_view> octets;
    for (std::size_t i = 0; i < input.size(); ++i) octets.push_back(input.substr(i, 1));
    FUZZ_CHECK(run(limits, multiline, octets) == whole);
  }

  // Round trip: a server sending this body dot-stuffed makes the parser read it back as is.
  if (whole.done && multiline && whole.kind == pop3_response::status::ok) {
    std::string wire = "+OK\r\n";
    append_dot_stuffed(wire, whole.body);
    pop3_parser_limits roomy = limits;
    roomy.data_line = 2 * limits.data_line + 4;  // a stuffing dot may lengthen a line
    const std::string_view wire_pieces[] = {wire};
    const outcome again = run(roomy, true, wire_pieces);
    FUZZ_CHECK(again.done && again.consumed == wire.size());
    FUZZ_CHECK(again.body == whole.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = as_text(data, size);
  // The client's limits, and small ones that small inputs reach.
  const pop3_parser_limits defaults;
  const pop3_parser_limits small{.status_line = 64, .data_line = 32, .body = 256};
  for (bool multiline : {false, true}) {
    check(input, defaults, multiline);
    check(input, small, multiline);
  }
  return 0;
}
