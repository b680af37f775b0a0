// SMTP command lines (RFC 5321 4.1) parsed into verbs and arguments, without I/O.
#include "smtp_command.hpp"

#include <algorithm>

#include "ascii.hpp"
#include <vector>

namespace missive {
namespace {

constexpr auto npos = std::string_view::npos;

struct verb_name {
  std::string_view name;
  smtp_verb verb;
};

constexpr verb_name verb_names[] = {
    {"HELO", smtp_verb::helo}, {"EHLO", smtp_verb::ehlo},         {"MAIL", smtp_verb::mail},
    {"RCPT", smtp_verb::rcpt}, {"DATA", smtp_verb::data},         {"RSET", smtp_verb::rset},
    {"NOOP", smtp_verb::noop}, {"QUIT", smtp_verb::quit},         {"VRFY", smtp_verb::vrfy},
    {"EXPN", smtp_verb::expn}, {"HELP", smtp_verb::help},         {"STARTTLS", smtp_verb::starttls},
    {"AUTH", smtp_verb::auth}, {"BDAT", smtp_verb::bdat},
};

smtp_verb find_verb(std::string_view word) {
  for (const auto& entry : verb_names) {
    if (iequals(word, entry.name)) return entry.verb;
  }
  return smtp_verb::unknown;
}

}  // namespace

std::string_view smtp_verb_name(smtp_verb verb) {
  for (const auto& entry : verb_names) {
    if (entry.verb == verb) return entry.name;
  }
  return "UNKNOWN";
}

namespace {

// Strips "FROM:" or "TO:" and the one space many clients send after the colon; nullopt
// unless a path follows ("FROM:a@b" without brackets is refused, RFC 5321 4.1.1.2).
std::optional<std::string_view> path_after(std::string_view argument, std::string_view prefix) {
  if (!istarts_with(argument, prefix)) return std::nullopt;
  auto rest = argument.substr(prefix.size());
  if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty() || rest.front() != '<') return std::nullopt;
  return rest;
}

// One "keyword[=value]" of Mail-parameters / Rcpt-parameters (RFC 5321 4.1.2).
struct esmtp_parameter {
  std::string_view keyword;
  std::optional<std::string_view> value;
};

// RFC 5321 4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
bool is_esmtp_keyword(std::string_view text) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  return !text.empty() && alnum(text.front()) &&
         std::all_of(text.begin(), text.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// RFC 5321 4.1.2: esmtp-value = 1*(%d33-60 / %d62-126); RFC 6531 3.3 adds UTF8-non-ascii.
bool is_esmtp_value(std::string_view text) {
  auto allowed = [](unsigned char c) { return (c >= 33 && c <= 126 && c != '=') || c >= 0x80; };
  return !text.empty() && std::all_of(text.begin(), text.end(), allowed);
}

// Splits what follows a path: nothing, or one space and parameters separated by single
// spaces. Refuses malformed keywords (syntax), malformed values and repeated keywords.
smtp_argument_error split_parameters(std::string_view text, std::vector<esmtp_parameter>& out) {
  if (text.empty()) return smtp_argument_error::none;
  if (text.front() != ' ') return smtp_argument_error::syntax;
  text.remove_prefix(1);
  while (true) {
    auto space = text.find(' ');
    auto item = text.substr(0, space);
    auto equals = item.find('=');
    esmtp_parameter parameter{item.substr(0, equals), std::nullopt};
    if (equals != npos) parameter.value = item.substr(equals + 1);
    if (!is_esmtp_keyword(parameter.keyword)) return smtp_argument_error::syntax;
    if (parameter.value && !is_esmtp_value(*parameter.value)) {
      return smtp_argument_error::bad_parameter;
    }
    for (const auto& seen : out) {
      if (iequals(seen.keyword, parameter.keyword)) return smtp_argument_error::bad_parameter;
    }
    out.push_back(parameter);
    if (space == npos) return smtp_argument_error::none;
    text.remove_prefix(space + 1);
  }
}

// RFC 1870 3: size-value = 1*20DIGIT, and it must fit what we can count.
std::optional<std::uint64_t> parse_size(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    auto digit = std::uint64_t(c - '0');
    // RFC 1870 3 allows 20 digits, more than 64 bits hold: a larger size is still a valid
    // declaration, of a message too big for anyone, so it saturates.
    if (value > (UINT64_MAX - digit) / 10) value = UINT64_MAX;
    else value = value * 10 + digit;
  }
  return value;
}

// Applies one MAIL FROM parameter of the extensions we offer.
smtp_argument_error apply_mail_parameter(const esmtp_parameter& parameter,
                                         mail_from_arguments& args) {
  const auto& [keyword, value] = parameter;
  if (iequals(keyword, "SIZE")) {
    auto size = value ? parse_size(*value) : std::nullopt;
    if (!size) return smtp_argument_error::bad_parameter;
    args.size = size;
  } else if (iequals(keyword, "BODY")) {
    // RFC 6152 2: BODY=7BIT or BODY=8BITMIME.
    if (value && iequals(*value, "7BIT")) args.body = body_type::seven_bit;
    else if (value && iequals(*value, "8BITMIME")) args.body = body_type::eight_bit_mime;
    else return smtp_argument_error::bad_parameter;
  } else if (iequals(keyword, "SMTPUTF8")) {
    // RFC 6531 3.4: SMTPUTF8 takes no value.
    if (value) return smtp_argument_error::bad_parameter;
    args.smtputf8 = true;
  } else if (iequals(keyword, "RET")) {
    // RFC 3461 4.3: RET=FULL or RET=HDRS.
    auto ret = value ? parse_ret(*value) : std::nullopt;
    if (!ret) return smtp_argument_error::bad_parameter;
    args.ret = *ret;
  } else if (iequals(keyword, "ENVID")) {
    // RFC 3461 4.4: xtext, decoded and kept for the DSNs and the next hop.
    auto envid = value ? parse_envid(*value) : std::nullopt;
    if (!envid) return smtp_argument_error::bad_parameter;
    args.envid = std::move(envid);
  } else if (iequals(keyword, "AUTH")) {
    // RFC 4954 5: a server offering AUTH accepts AUTH=; treating it as AUTH=<> (ignoring
    // it) is always allowed.
    if (!value) return smtp_argument_error::bad_parameter;
  } else {
    return smtp_argument_error::unknown_parameter;
  }
  return smtp_argument_error::none;
}

// Applies one RCPT TO parameter of the extensions we offer (DSN, RFC 3461).
smtp_argument_error apply_rcpt_parameter(const esmtp_parameter& parameter,
                                         rcpt_to_arguments& args) {
  const auto& [keyword, value] = parameter;
  if (iequals(keyword, "NOTIFY")) {
    auto notify = value ? parse_notify(*value) : std::nullopt;
    if (!notify) return smtp_argument_error::bad_parameter;
    args.notify = *notify;
  } else if (iequals(keyword, "ORCPT")) {
    auto orcpt = value ? parse_orcpt(*value) : std::nullopt;
    if (!orcpt) return smtp_argument_error::bad_parameter;
    args.orcpt = std::move(orcpt);
  } else {
    return smtp_argument_error::unknown_parameter;
  }
  return smtp_argument_error::none;
}

// RFC 5321 4.1.1.3: "<Postmaster>" without a domain must be accepted as a recipient.
parsed_path parse_recipient_path(std::string_view text, bool smtputf8) {
  constexpr std::string_view postmaster = "<postmaster>";
  if (!istarts_with(text, postmaster)) {
    return parse_path(text, {.allow_null = false, .allow_utf8 = smtputf8});
  }
  parsed_path result;
  result.address.local_part = text.substr(1, postmaster.size() - 2);
  result.consumed = postmaster.size();
  return result;
}

}  // namespace

smtp_command parse_smtp_command(std::string_view line) {
  while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
  smtp_command command;
  auto space = line.find(' ');
  command.verb = find_verb(line.substr(0, space));
  if (space != npos) {
    command.has_argument = true;
    command.argument = line.substr(space + 1);
  }
  return command;
}

mail_from_arguments parse_mail_from(std::string_view argument) {
  mail_from_arguments args;
  auto text = path_after(argument, "FROM:");
  // SMTPUTF8 comes after the path, so the path is first read allowing UTF-8.
  auto path = text ? parse_path(*text, {.allow_null = true, .allow_utf8 = true}) : parsed_path{};
  if (!text || path.error == address_error::syntax) {
    args.error = smtp_argument_error::syntax;
    args.address_problem = text ? address_error::syntax : address_error::none;
    return args;
  }
  std::vector<esmtp_parameter> parameters;
  args.error = split_parameters(text->substr(path.consumed), parameters);
  for (const auto& parameter : parameters) {
    if (args.error != smtp_argument_error::none) break;
    args.error = apply_mail_parameter(parameter, args);
  }
  if (args.error != smtp_argument_error::none) return args;
  // RFC 6531 3.4: without SMTPUTF8 the reverse-path must be ASCII.
  if (!args.smtputf8) path = parse_path(*text, {.allow_null = true, .allow_utf8 = false});
  if (path.error != address_error::none) {
    args.error = smtp_argument_error::address;
    args.address_problem = path.error;
    return args;
  }
  args.sender = std::move(path.address);
  return args;
}

rcpt_to_arguments parse_rcpt_to(std::string_view argument, bool smtputf8) {
  rcpt_to_arguments args;
  auto text = path_after(argument, "TO:");
  auto path = text ? parse_recipient_path(*text, smtputf8) : parsed_path{};
  if (!text || path.error == address_error::syntax) {
    args.error = smtp_argument_error::syntax;
    args.address_problem = text ? address_error::syntax : address_error::none;
    return args;
  }
  std::vector<esmtp_parameter> parameters;
  args.error = split_parameters(text->substr(path.consumed), parameters);
  for (const auto& parameter : parameters) {
    if (args.error != smtp_argument_error::none) break;
    args.error = apply_rcpt_parameter(parameter, args);
  }
  if (args.error != smtp_argument_error::none) return args;
  if (path.error != address_error::none) {
    args.error = smtp_argument_error::address;
    args.address_problem = path.error;
    return args;
  }
  args.recipient = std::move(path.address);
  return args;
}

}  // namespace missive
