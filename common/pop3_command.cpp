// POP3 command lines (RFC 1939 3, RFC 2449, RFC 5034) parsed without I/O.
#include "pop3_command.hpp"

#include <algorithm>

#include "ascii.hpp"
#include "limits.hpp"

namespace missive {
namespace {

constexpr auto npos = std::string_view::npos;

struct verb_name {
  std::string_view name;
  pop3_verb verb;
};

constexpr verb_name verb_names[] = {
    {"USER", pop3_verb::user}, {"PASS", pop3_verb::pass}, {"APOP", pop3_verb::apop},
    {"AUTH", pop3_verb::auth}, {"CAPA", pop3_verb::capa}, {"STLS", pop3_verb::stls},
    {"STAT", pop3_verb::stat}, {"LIST", pop3_verb::list}, {"RETR", pop3_verb::retr},
    {"DELE", pop3_verb::dele}, {"NOOP", pop3_verb::noop}, {"RSET", pop3_verb::rset},
    {"TOP", pop3_verb::top},   {"UIDL", pop3_verb::uidl}, {"QUIT", pop3_verb::quit},
};

pop3_verb find_verb(std::string_view word) {
  for (const auto& entry : verb_names) {
    if (iequals(word, entry.name)) return entry.verb;
  }
  return pop3_verb::unknown;
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

// Whether argument `index` of `verb` may exceed limits::pop3_argument: the initial response
// of AUTH (RFC 5034 4) is base64 of any length.
bool may_be_long(pop3_verb verb, std::size_t index) {
  return verb == pop3_verb::auth && index >= 1;
}

// Splits `text` on single spaces into `command.arguments`, marking the command malformed
// for an empty or over-long argument. One trailing space is tolerated.
void split_arguments(std::string_view text, pop3_command& command) {
  if (text.ends_with(' ')) text.remove_suffix(1);
  while (true) {
    auto space = text.find(' ');
    auto argument = text.substr(0, space);
    bool too_long = argument.size() > limits::pop3_argument &&
                    !may_be_long(command.verb, command.arguments.size());
    if (argument.empty() || too_long) command.malformed = true;
    command.arguments.push_back(argument);
    if (space == npos) return;
    text.remove_prefix(space + 1);
  }
}

// Parses decimal digits into a 32-bit number; nullopt for anything else or overflow.
std::optional<std::uint32_t> parse_uint32(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + std::uint64_t(c - '0');
    if (value > UINT32_MAX) return std::nullopt;
  }
  return std::uint32_t(value);
}

}  // namespace

pop3_command parse_pop3_command(std::string_view line) {
  pop3_command command;
  command.malformed = std::any_of(line.begin(), line.end(), is_control);
  auto space = line.find(' ');
  command.verb = find_verb(line.substr(0, space));
  if (space == npos) return command;
  auto rest = line.substr(space + 1);
  if (command.verb == pop3_verb::pass) {
    // RFC 1939 7: the password is the rest of the line, spaces included.
    if (!rest.empty()) command.arguments.push_back(rest);
    return command;
  }
  if (!rest.empty()) split_arguments(rest, command);
  return command;
}

std::optional<std::uint32_t> parse_message_number(std::string_view text) {
  auto number = parse_uint32(text);
  if (number == 0u) return std::nullopt;  // RFC 1939 3: messages are numbered from 1
  return number;
}

std::optional<std::uint32_t> parse_line_count(std::string_view text) {
  return parse_uint32(text);
}

}  // namespace missive
