// Fuzzes the POP3 command line codec (common/pop3_command.hpp): the verb and argument split
// and the number parsers behind LIST, RETR, DELE, UIDL and TOP.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "limits.hpp"
#include "pop3_command.hpp"

using namespace missive;
using namespace missive::fuzz;

namespace {

bool all_digits(std::string_view text) {
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return !text.empty();
}

// The decimal digits of `text` without leading zeros ("0" stays "0").
std::string_view significant(std::string_view text) {
  while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);
  return text;
}

void check_number(std::string_view text) {
  const auto count = parse_line_count(text);
  const auto number = parse_message_number(text);
  if (count) {
    FUZZ_CHECK(all_digits(text));
    FUZZ_CHECK(std::to_string(*count) == significant(text));
  } else if (all_digits(text)) {
    // Refused digits can only be too large for 32 bits.
    auto digits = significant(text);
    FUZZ_CHECK(digits.size() > 10 || (digits.size() == 10 && digits > "4294967295"));
  }
  // A message number is a line count that is not 0 (RFC 1939 3: numbered from 1).
  FUZZ_CHECK(number.has_value() == (count.has_value() && *count != 0));
  if (number) FUZZ_CHECK(*number == *count);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line = as_text(data, size);
  const pop3_command command = parse_pop3_command(line);
  for (std::string_view argument : command.arguments) {
    FUZZ_CHECK(within(argument, line));
    check_number(argument);
  }
  if (has_control(line)) FUZZ_CHECK(command.malformed);
  if (command.verb == pop3_verb::pass) FUZZ_CHECK(command.arguments.size() <= 1);
  if (!command.malformed) {
    for (std::size_t i = 0; i < command.arguments.size(); ++i) {
      std::string_view argument = command.arguments[i];
      if (command.verb != pop3_verb::pass) {
        FUZZ_CHECK(!argument.empty());
        FUZZ_CHECK(argument.find(' ') == std::string_view::npos);
      }
      const bool may_be_long =
          command.verb == pop3_verb::pass || (command.verb == pop3_verb::auth && i >= 1);
      if (!may_be_long) FUZZ_CHECK(argument.size() <= limits::pop3_argument);
    }
  }
  check_number(line);
  return 0;
}
