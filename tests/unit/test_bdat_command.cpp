// The BDAT argument parser and the check of BDAT data (RFC 3030).
#include <doctest/doctest.h>

#include <string>

#include "bdat_command.hpp"

using namespace missive;
using namespace std::string_literals;

TEST_CASE("parse_bdat") {
  auto simple = parse_bdat("100");
  REQUIRE(simple);
  CHECK(simple->size == 100);
  CHECK(!simple->last);
  auto last = parse_bdat("0 LAST");
  REQUIRE(last);
  CHECK(last->size == 0);
  CHECK(last->last);
  auto lower = parse_bdat("12 last");
  REQUIRE(lower);
  CHECK(lower->last);
  auto big = parse_bdat("18446744073709551615");
  REQUIRE(big);
  CHECK(big->size == UINT64_MAX);
  CHECK(parse_bdat("007")->size == 7);
  for (std::string bad : {""s, " "s, "LAST"s, "-1"s, "+1"s, "1 "s, "1  LAST"s, "1 LAST "s,
                          "1 LASTX"s, "1 FIRST"s, "1x"s, "0x10"s, "1 LAST LAST"s,
                          "18446744073709551616"s, std::string(21, '1'), "1\tLAST"s}) {
    INFO("argument: ", bad);
    CHECK(!parse_bdat(bad));
  }
}

TEST_CASE("check_bdat_text: CRLF lines only, as DATA's") {
  CHECK(check_bdat_text("") == data_error::none);
  CHECK(check_bdat_text("a\r\nb\r\n") == data_error::none);
  CHECK(check_bdat_text("a\r\nb") == data_error::none);  // the relay completes the last line
  CHECK(check_bdat_text(".\r\n..\r\n") == data_error::none);  // no dot-stuffing in BDAT
  CHECK(check_bdat_text("a\nb\r\n") == data_error::bare_line_ending);
  CHECK(check_bdat_text("a\rb\r\n") == data_error::bare_line_ending);
  CHECK(check_bdat_text("a\r") == data_error::bare_line_ending);
  CHECK(check_bdat_text("a\r\n.\n") == data_error::bare_line_ending);
  CHECK(check_bdat_text("a\0b\r\n"s) == data_error::nul_byte);
  CHECK(check_bdat_text(std::string(998, 'x') + "\r\n") == data_error::none);
  CHECK(check_bdat_text(std::string(999, 'x') + "\r\n") == data_error::line_too_long);
  CHECK(check_bdat_text(std::string(999, 'x')) == data_error::line_too_long);
}
