// Fuzzes the SMTP DATA decoder (common/data_reader.hpp) with the properties a session relies
// on: it never claims more than it was given, it answers the same however the bytes are cut
// into reads, and what it accepts is exactly what dot-stuffing (dot_stuffing.hpp) sends back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data_reader.hpp"
#include "dot_stuffing.hpp"
#include "fuzz_check.hpp"
#include "limits.hpp"

using namespace missive;
using namespace missive::fuzz;

namespace {

// What a reader ended with after the input.
struct outcome {
  std::size_t consumed = 0;
  bool done = false;
  data_error error = data_error::none;
  std::string message;
  std::size_t size = 0;

  bool operator==(const outcome&) const = default;
};

// Feeds `pieces` in order, stopping once the reader is done, as a session does.
template <typename Pieces>
outcome run(std::size_t max_size, const Pieces& pieces) {
  data_reader reader(max_size);
  outcome result;
  for (std::string_view piece : pieces) {
    if (reader.done()) break;
    std::size_t consumed = reader.feed(piece);
    FUZZ_CHECK(consumed <= piece.size());
    // Fewer octets than given only when the end was reached.
    FUZZ_CHECK(consumed == piece.size() || reader.done());
    result.consumed += consumed;
  }
  result.done = reader.done();
  result.error = reader.error();
  result.message = reader.message();
  result.size = reader.size();
  // The message keeps at most max_size octets; more is counted, refused, not kept.
  FUZZ_CHECK(result.message.size() == std::min(result.size, max_size));
  FUZZ_CHECK(result.size <= max_size || result.error != data_error::none);
  FUZZ_CHECK(result.error != data_error::too_big || result.size > max_size);
  return result;
}

void check(std::string_view input, std::size_t max_size) {
  const std::string_view whole_pieces[] = {input};
  const outcome whole = run(max_size, whole_pieces);
  FUZZ_CHECK(whole.consumed <= input.size());
  if (whole.done) {
    // The data ended at CRLF "." CRLF (the DATA line's CRLF counting as the first).
    std::string seen = "\r\n" + std::string(input.substr(0, whole.consumed));
    FUZZ_CHECK(seen.ends_with("\r\n.\r\n"));
  }

  // Split at one offset taken from the data, then one octet at a time: the same answer.
  const std::size_t at = split_offset(input);
  const std::string_view split_pieces[] = {input.substr(0, at), input.substr(at)};
  FUZZ_CHECK(run(max_size, split_pieces) == whole);
  if (input.size() <= 4096) {
    std::vector<std::string_view> octets;
    for (std::size_t i = 0; i < input.size(); ++i) octets.push_back(input.substr(i, 1));
    FUZZ_CHECK(run(max_size, octets) == whole);
  }

  if (!whole.done || whole.error != data_error::none) return;
  // What was accepted: CRLF lines only, no NUL, no line over the limit.
  FUZZ_CHECK(whole.message.empty() || whole.message.ends_with("\r\n"));
  FUZZ_CHECK(whole.message.find('\0') == std::string::npos);
  // Round trip: sending the message on (append_dot_stuffed) and reading it again gives the
  // very same message, with nothing left over and no error.
  std::string wire;
  append_dot_stuffed(wire, whole.message);
  const std::string_view wire_pieces[] = {wire};
  const outcome again = run(max_size, wire_pieces);
  FUZZ_CHECK(again.done);
  FUZZ_CHECK(again.error == data_error::none);
  FUZZ_CHECK(again.consumed == wire.size());
  FUZZ_CHECK(again.message == whole.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = as_text(data, size);
  // A limit no input here reaches, and one that most do (so too_big is explored too).
  check(input, 1 << 20);
  check(input, input.size() / 2);
  return 0;
}
