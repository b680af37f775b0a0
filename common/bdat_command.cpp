// The argument of BDAT: see bdat_command.hpp.
#include "bdat_command.hpp"

#include "ascii.hpp"
#include "limits.hpp"

namespace missive {

std::optional<bdat_arguments> parse_bdat(std::string_view argument) {
  bdat_arguments args;
  auto space = argument.find(' ');
  auto digits = argument.substr(0, space);
  // As for SIZE (RFC 1870 3), 20 digits are plenty; a longer number is refused rather than
  // read as something it is not.
  if (digits.empty() || digits.size() > 20) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (args.size > (UINT64_MAX - digit) / 10) return std::nullopt;
    args.size = args.size * 10 + digit;
  }
  if (space == std::string_view::npos) return args;
  if (!iequals(argument.substr(space + 1), "LAST")) return std::nullopt;
  args.last = true;
  return args;
}

data_error check_bdat_text(std::string_view data) {
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (c == '\0') return data_error::nul_byte;
    if (c == '\r') {
      if (i + 1 >= data.size() || data[i + 1] != '\n') return data_error::bare_line_ending;
      if (i + 2 - line_start > limits::smtp_text_line) return data_error::line_too_long;
      ++i;
      line_start = i + 1;
    } else if (c == '\n') {
      return data_error::bare_line_ending;
    }
  }
  // A last line without CRLF is completed by the relay when the message is sent on.
  if (data.size() - line_start + 2 > limits::smtp_text_line) return data_error::line_too_long;
  return data_error::none;
}

}  // namespace missive
