// Fuzzes the BDAT codec (common/bdat_command.hpp): the argument parser, whose size decides
// where the next command starts (a wrong one desynchronizes the session), and the check of
// BDAT data.
#include <cstddef>
#include <cstdint>
#include <string>

#include "bdat_command.hpp"
#include "fuzz_check.hpp"

using namespace missive;
using namespace missive::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = as_text(data, size);
  if (auto args = parse_bdat(input)) {
    // Accepted: digits, optionally " LAST", nothing else; written back, it parses the same.
    FUZZ_CHECK(!has_control(input));
    std::string again = std::to_string(args->size) + (args->last ? " LAST" : "");
    auto reparsed = parse_bdat(again);
    FUZZ_CHECK(reparsed && reparsed->size == args->size && reparsed->last == args->last);
    FUZZ_CHECK(input.size() <= 20 + 5);
  }
  auto verdict = check_bdat_text(input);
  if (verdict == data_error::none) {
    // Text that passes holds no NUL, and every CR starts a CRLF and every LF ends one.
    for (std::size_t i = 0; i < input.size(); ++i) {
      FUZZ_CHECK(input[i] != '\0');
      if (input[i] == '\r') FUZZ_CHECK(i + 1 < input.size() && input[i + 1] == '\n');
      if (input[i] == '\n') FUZZ_CHECK(i > 0 && input[i - 1] == '\r');
    }
  }
  return 0;
}
