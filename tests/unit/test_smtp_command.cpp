// Unit tests for SMTP command lines and MAIL FROM / RCPT TO arguments (RFC 5321 4.1).
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "smtp_command.hpp"

using namespace std::literals;
using missive::address_error;
using missive::body_type;
using missive::smtp_argument_error;
using missive::smtp_verb;

TEST_CASE("parse_smtp_command splits verb and argument") {
  struct command_case {
    std::string line;
    smtp_verb verb;
    std::string argument;
    bool has_argument;
  };
  const std::vector<command_case> cases = {
      {"MAIL FROM:<a@b.example>", smtp_verb::mail, "FROM:<a@b.example>", true},
      {"mail from:<a@b.example> SIZE=10", smtp_verb::mail, "from:<a@b.example> SIZE=10", true},
      {"RCPT TO:<a@b.example>  ", smtp_verb::rcpt, "TO:<a@b.example>", true},
      {"EHLO client.example", smtp_verb::ehlo, "client.example", true},
      {"helo client.example", smtp_verb::helo, "client.example", true},
      {"HELO  client.example", smtp_verb::helo, " client.example", true},
      {"DATA", smtp_verb::data, "", false},
      {"RSET", smtp_verb::rset, "", false},
      {"NOOP anything", smtp_verb::noop, "anything", true},
      {"QUIT", smtp_verb::quit, "", false},
      {"QUIT   ", smtp_verb::quit, "", false},
      {"VRFY alice", smtp_verb::vrfy, "alice", true},
      {"EXPN list", smtp_verb::expn, "list", true},
      {"HELP", smtp_verb::help, "", false},
      {"StartTLS", smtp_verb::starttls, "", false},
      {"AUTH PLAIN AGFsaWNlAHNlY3JldA==", smtp_verb::auth, "PLAIN AGFsaWNlAHNlY3JldA==", true},
      {"BDAT 100 LAST", smtp_verb::bdat, "100 LAST", true},
      {"MAILFROM:<a@b.example>", smtp_verb::unknown, "", false},
      {"MAIL", smtp_verb::mail, "", false},
      {"XYZZY foo", smtp_verb::unknown, "foo", true},
      {"", smtp_verb::unknown, "", false},
      {" MAIL FROM:<a@b.example>", smtp_verb::unknown, "MAIL FROM:<a@b.example>", true},
      {"MAIL\tFROM:<a@b.example>", smtp_verb::unknown, "", false},
      {"DATA\r", smtp_verb::unknown, "", false},
      {"MAI", smtp_verb::unknown, "", false},
  };
  for (const auto& c : cases) {
    INFO("line: ", c.line);
    auto command = missive::parse_smtp_command(c.line);
    CHECK(command.verb == c.verb);
    CHECK(command.argument == c.argument);
    CHECK(command.has_argument == c.has_argument);
  }
}

namespace {

struct mail_case {
  std::string argument;
  smtp_argument_error error;
  address_error problem;
  std::string local_part;
  std::string domain;
  std::optional<std::uint64_t> size;
  body_type body;
  bool smtputf8;
};

}  // namespace

TEST_CASE("parse_mail_from") {
  const std::string long_path = "<" + std::string(64, 'l') + "@" + std::string(190, 'd') + ">";
  const auto ok = smtp_argument_error::none;
  const auto none = address_error::none;
  const auto unspecified = body_type::unspecified;
  const std::vector<mail_case> cases = {
      {"FROM:<a@b.example>", ok, none, "a", "b.example", {}, unspecified, false},
      {"from:<a@b.example>", ok, none, "a", "b.example", {}, unspecified, false},
      {"FROM: <a@b.example>", ok, none, "a", "b.example", {}, unspecified, false},
      {"FROM:<>", ok, none, "", "", {}, unspecified, false},
      {"FROM:<> SIZE=0", ok, none, "", "", 0u, unspecified, false},
      {"FROM:<a@b.example> SIZE=100 BODY=8BITMIME SMTPUTF8", ok, none, "a", "b.example", 100u,
       body_type::eight_bit_mime, true},
      {"FROM:<a@b.example> size=100 body=7bit", ok, none, "a", "b.example", 100u,
       body_type::seven_bit, false},
      {"FROM:<a@b.example> BODY=8bitmime", ok, none, "a", "b.example", {},
       body_type::eight_bit_mime, false},
      {"FROM:<a@b.example> SIZE=18446744073709551615", ok, none, "a", "b.example",
       18446744073709551615u, unspecified, false},
      {"FROM:<a@b.example> SIZE=00000000000000000001", ok, none, "a", "b.example", 1u,
       unspecified, false},
      // RFC 1870 3: up to 20 digits; beyond 64 bits the size saturates (and is refused as too big).
      {"FROM:<a@b.example> SIZE=99999999999999999999", ok, none, "a", "b.example",
       18446744073709551615u, unspecified, false},
      {"FROM:<a@b.example> AUTH=<>", ok, none, "a", "b.example", {}, unspecified, false},
      {"FROM:<a@b.example> AUTH=alice+40example.test", ok, none, "a", "b.example", {},
       unspecified, false},
      {"FROM:<@r.example:a@b.example>", ok, none, "a", "b.example", {}, unspecified, false},
      {"FROM:<j\xc3\xb6@b\xc3\xbc.example> SMTPUTF8", ok, none, "j\xc3\xb6", "b\xc3\xbc.example",
       {}, unspecified, true},
      {"FROM:<j\xc3\xb6@b.example> smtputf8 BODY=8BITMIME", ok, none, "j\xc3\xb6", "b.example",
       {}, body_type::eight_bit_mime, true},
  };
  for (const auto& c : cases) {
    INFO("argument: ", c.argument);
    auto args = missive::parse_mail_from(c.argument);
    CHECK(args.error == c.error);
    CHECK(args.address_problem == c.problem);
    CHECK(args.sender.local_part == c.local_part);
    CHECK(args.sender.domain == c.domain);
    CHECK(args.size == c.size);
    CHECK(args.body == c.body);
    CHECK(args.smtputf8 == c.smtputf8);
  }
}

TEST_CASE("parse_mail_from refuses malformed arguments") {
  struct refused_case {
    std::string argument;
    smtp_argument_error error;
    address_error problem;
  };
  const std::string path_256 = "<" + std::string(64, 'l') + "@" + std::string(189, 'd') + ">";
  const std::string path_257 = "<" + std::string(64, 'l') + "@" + std::string(190, 'd') + ">";
  const auto syntax = smtp_argument_error::syntax;
  const auto bad = smtp_argument_error::bad_parameter;
  const auto unknown = smtp_argument_error::unknown_parameter;
  const auto address = smtp_argument_error::address;
  const auto none = address_error::none;
  const std::vector<refused_case> cases = {
      {"", syntax, none},
      {"FROM:", syntax, none},
      {"FROM:a@b.example", syntax, none},
      {"FROM:  <a@b.example>", syntax, none},
      {"FROM <a@b.example>", syntax, none},
      {"TO:<a@b.example>", syntax, none},
      {" FROM:<a@b.example>", syntax, none},
      {"FROM:<a@b.example", syntax, address_error::syntax},
      {"FROM:<;sleep 1;>", syntax, address_error::syntax},
      {"FROM:<a;b@example.test>", syntax, address_error::syntax},
      {"FROM:<a b@example.test>", syntax, address_error::syntax},
      {"FROM:<a@b.example>SIZE=100", syntax, none},
      {"FROM:<a@b.example>  SIZE=100", syntax, none},
      {"FROM:<a@b.example> SIZE=100 ", syntax, none},
      {"FROM:<a@b.example> =100", syntax, none},
      {"FROM:<a@b.example> -X=1", syntax, none},
      {"FROM:<a@b.example> SI\rZE=100"s, syntax, none},
      {"FROM:<a@b.example> SIZE", bad, none},
      {"FROM:<a@b.example> SIZE=", bad, none},
      {"FROM:<a@b.example> SIZE=abc", bad, none},
      {"FROM:<a@b.example> SIZE=-1", bad, none},
      {"FROM:<a@b.example> SIZE=+1", bad, none},
      {"FROM:<a@b.example> SIZE=1x", bad, none},
      {"FROM:<a@b.example> SIZE=000000000000000000001", bad, none},
      {"FROM:<a@b.example> SIZE=1=2", bad, none},
      {"FROM:<a@b.example> SIZE=1 SIZE=2", bad, none},
      {"FROM:<a@b.example> SIZE=1 size=1", bad, none},
      {"FROM:<a@b.example> BODY=BINARYMIME", bad, none},
      {"FROM:<a@b.example> BODY", bad, none},
      {"FROM:<a@b.example> SMTPUTF8=yes", bad, none},
      {"FROM:<a@b.example> SMTPUTF8 SMTPUTF8", bad, none},
      {"FROM:<a@b.example> AUTH", bad, none},
      {"FROM:<a@b.example> SIZE=1\r\nRSET"s, bad, none},
      {"FROM:<a@b.example> SIZE=1\n"s, bad, none},
      {"FROM:<a@b.example> SIZE=1\0"s, bad, none},
      {"FROM:<a@b.example> BODY=8BIT\x7fMIME"s, bad, none},
      {"FROM:<a@b.example> FOO=bar\r"s, bad, none},
      {"FROM:<a@b.example> FOO=bar", unknown, none},
      {"FROM:<a@b.example> X-FOO", unknown, none},
      {"FROM:<a@b.example> RET=HEADERS", bad, none},
      {"FROM:<a@b.example> RET", bad, none},
      {"FROM:<a@b.example> ENVID=a+2", bad, none},
      {"FROM:<a@b.example> ENVID=" + std::string(101, 'e'), bad, none},
      {"FROM:<a@b.example> X-RET=HDRS", unknown, none},
      {"FROM:<j\xc3\xb6@b.example>", address, address_error::non_ascii},
      {"FROM:<a@b\xc3\xbc.example> BODY=8BITMIME", address, address_error::non_ascii},
      {"FROM:" + path_257, address, address_error::path_too_long},
      {"FROM:<" + std::string(65, 'l') + "@b.example>", address,
       address_error::local_part_too_long},
  };
  for (const auto& c : cases) {
    INFO("argument: ", c.argument);
    auto args = missive::parse_mail_from(c.argument);
    CHECK(args.error == c.error);
    CHECK(args.address_problem == c.problem);
    CHECK(args.sender.is_null());
  }
  auto at_limit = missive::parse_mail_from("FROM:" + path_256);
  CHECK(at_limit.error == smtp_argument_error::none);
  CHECK(at_limit.sender.domain == std::string(189, 'd'));
}

TEST_CASE("parse_rcpt_to") {
  struct rcpt_case {
    std::string argument;
    bool smtputf8;
    smtp_argument_error error;
    address_error problem;
    std::string local_part;
    std::string domain;
  };
  const auto ok = smtp_argument_error::none;
  const auto syntax = smtp_argument_error::syntax;
  const auto none = address_error::none;
  const std::vector<rcpt_case> cases = {
      {"TO:<a@b.example>", false, ok, none, "a", "b.example"},
      {"to:<a@b.example>", false, ok, none, "a", "b.example"},
      {"To: <a@b.example>", false, ok, none, "a", "b.example"},
      {"TO:<@r.example,@s.example:a@b.example>", false, ok, none, "a", "b.example"},
      {"TO:<Postmaster>", false, ok, none, "Postmaster", ""},
      {"TO:<postMASTER>", false, ok, none, "postMASTER", ""},
      {"TO: <postmaster>", false, ok, none, "postmaster", ""},
      {"TO:<Postmaster@b.example>", false, ok, none, "Postmaster", "b.example"},
      {"TO:<j\xc3\xb6@b.example>", true, ok, none, "j\xc3\xb6", "b.example"},
      {"TO:<j\xc3\xb6@b.example>", false, smtp_argument_error::address, address_error::non_ascii,
       "", ""},
      {"TO:<>", false, smtp_argument_error::address, address_error::null_not_allowed, "", ""},
      {"TO:<" + std::string(65, 'l') + "@b.example>", false, smtp_argument_error::address,
       address_error::local_part_too_long, "", ""},
      {"TO:<a@b.example> NOTIFY=NEVER", false, ok, none, "a", "b.example"},
      {"TO:<Postmaster> NOTIFY=NEVER", false, ok, none, "Postmaster", ""},
      {"TO:<a@b.example> NOTIFY=NEVER,SUCCESS", false, smtp_argument_error::bad_parameter, none,
       "", ""},
      {"TO:<a@b.example> ORCPT=rfc822;a", false, smtp_argument_error::bad_parameter, none, "", ""},
      {"TO:<a@b.example> X-NOTIFY=NEVER", false, smtp_argument_error::unknown_parameter, none, "",
       ""},
      {"TO:<a@b.example> NOTIFY=NE\rVER"s, false, smtp_argument_error::bad_parameter, none, "",
       ""},
      {"TO:<a@b.example> NOTIFY=NEVER\0"s, false, smtp_argument_error::bad_parameter, none, "",
       ""},
      {"TO:<a@b.example>x", false, syntax, none, "", ""},
      {"TO:<Postmaster>x", false, syntax, none, "", ""},
      {"TO:<Postmasterx>", false, syntax, address_error::syntax, "", ""},
      {"TO:<a@b.example>  NOTIFY=NEVER", false, syntax, none, "", ""},
      {"TO:a@b.example", false, syntax, none, "", ""},
      {"TO:<a@b.example", false, syntax, address_error::syntax, "", ""},
      {"TO:<;sleep 1;>", false, syntax, address_error::syntax, "", ""},
      {"TO:<a;b@example.test>", false, syntax, address_error::syntax, "", ""},
      {"FROM:<a@b.example>", false, syntax, none, "", ""},
      {"TO:", false, syntax, none, "", ""},
      {"", false, syntax, none, "", ""},
  };
  for (const auto& c : cases) {
    INFO("argument: ", c.argument, " smtputf8: ", c.smtputf8);
    auto args = missive::parse_rcpt_to(c.argument, c.smtputf8);
    CHECK(args.error == c.error);
    CHECK(args.address_problem == c.problem);
    CHECK(args.recipient.local_part == c.local_part);
    CHECK(args.recipient.domain == c.domain);
  }
}

TEST_CASE("parse_mail_from takes the DSN parameters RET and ENVID (RFC 3461 4.3, 4.4)") {
  auto args = missive::parse_mail_from("FROM:<a@b.example> RET=hdrs ENVID=QQ+2B1+3Dx");
  REQUIRE(args.error == smtp_argument_error::none);
  CHECK(args.ret == missive::dsn_return::headers);
  REQUIRE(args.envid);
  CHECK(*args.envid == "QQ+1=x");
  auto full = missive::parse_mail_from("FROM:<> RET=FULL");
  REQUIRE(full.error == smtp_argument_error::none);
  CHECK(full.ret == missive::dsn_return::full);
  CHECK(!full.envid);
  // Decoded to a control character: refused.
  CHECK(missive::parse_mail_from("FROM:<a@b.example> ENVID=a+0Ab").error ==
        smtp_argument_error::bad_parameter);
  CHECK(missive::parse_mail_from("FROM:<a@b.example> RET=FULL RET=HDRS").error ==
        smtp_argument_error::bad_parameter);
}

TEST_CASE("parse_rcpt_to takes the DSN parameters NOTIFY and ORCPT (RFC 3461 4.1, 4.2)") {
  using namespace missive::dsn_notify;
  auto args = missive::parse_rcpt_to(
      "TO:<a@b.example> NOTIFY=success,Delay ORCPT=rfc822;Alice+2Bx@b.example", false);
  REQUIRE(args.error == smtp_argument_error::none);
  CHECK(args.notify == (success | delay));
  REQUIRE(args.orcpt);
  CHECK(args.orcpt->type == "rfc822");
  CHECK(args.orcpt->address == "Alice+x@b.example");
  auto never = missive::parse_rcpt_to("TO:<a@b.example> NOTIFY=NEVER", false);
  CHECK(never.notify == missive::dsn_notify::never);
  auto plain = missive::parse_rcpt_to("TO:<a@b.example>", false);
  CHECK(plain.notify == 0);
  CHECK(!plain.orcpt);
}
