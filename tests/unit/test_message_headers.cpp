// Unit tests for the RFC 5322 header summary, date formatting and TOP's body lines.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "message_headers.hpp"

using namespace std::chrono;

TEST_CASE("scan_headers") {
  struct scan_case {
    std::string message;
    bool message_id;
    bool date;
    std::size_t received;
    bool starts_with_header;
  };
  const std::vector<scan_case> cases = {
      {"From: a@b.test\r\nMessage-ID: <x@y>\r\nDate: Sat, 21 Nov 2026 18:49:00 +0000\r\n\r\nbody\r\n",
       true, true, 0, true},
      {"message-id: <x@y>\r\nDATE: today\r\n\r\n", true, true, 0, true},
      {"Subject: hi\r\n\r\nMessage-ID: <in@body>\r\nDate: no\r\nReceived: no\r\n", false, false,
       0, true},
      {"Received: from a\r\n by b\r\nReceived: from c\r\n\tReceived: folded\r\n"
       "RECEIVED: from d\r\nSubject: x\r\n\r\nReceived: body\r\n",
       false, false, 3, true},
      {"Subject: x\r\n Message-ID: folded, not a field\r\n\r\n", false, false, 0, true},
      {"Hello world\r\nMessage-ID: <x@y>\r\n\r\n", true, false, 0, false},
      {"\r\nMessage-ID: <x@y>\r\n", false, false, 0, false},
      {"", false, false, 0, false},
      {"Subject: no line ending", false, false, 0, true},
      {"Date:\r\n\r\n", false, true, 0, true},
      {"Subject : spaced name\r\n\r\n", false, false, 0, false},
      {": no name\r\n\r\n", false, false, 0, false},
      {" Subject: leading space\r\n\r\n", false, false, 0, false},
      {"X-\xc3\x84: eight-bit name\r\n\r\n", false, false, 0, false},
      {"Message-IDx: <x@y>\r\nDated: x\r\nReceivedx: y\r\n\r\n", false, false, 0, true},
      {"X-Weird!#$%&'*+-/=?^_`{|}~: ok\r\n\r\n", false, false, 0, true},
  };
  for (const auto& c : cases) {
    INFO("message: ", c.message);
    auto summary = missive::scan_headers(c.message);
    CHECK(summary.has_message_id == c.message_id);
    CHECK(summary.has_date == c.date);
    CHECK(summary.received_count == c.received);
    CHECK(summary.starts_with_header == c.starts_with_header);
  }
  std::string looping;
  for (int i = 0; i < 51; ++i) looping += "Received: by hop" + std::to_string(i) + "\r\n";
  CHECK(missive::scan_headers(looping + "\r\nbody\r\n").received_count == 51);
}

TEST_CASE("format_rfc5322_date") {
  struct date_case {
    system_clock::time_point when;
    std::string text;
  };
  const std::vector<date_case> cases = {
      {sys_days{2026y / November / 21} + 18h + 49min, "Sat, 21 Nov 2026 18:49:00 +0000"},
      {sys_days{1970y / January / 1}, "Thu, 01 Jan 1970 00:00:00 +0000"},
      {sys_days{2000y / February / 29} + 12h + 5s + 999ms, "Tue, 29 Feb 2000 12:00:05 +0000"},
      {sys_days{2038y / January / 19} + 3h + 14min + 8s, "Tue, 19 Jan 2038 03:14:08 +0000"},
      {sys_days{1999y / December / 31} + 23h + 59min + 59s, "Fri, 31 Dec 1999 23:59:59 +0000"},
  };
  for (const auto& c : cases) CHECK(missive::format_rfc5322_date(c.when) == c.text);
}

TEST_CASE("header_section and first_body_lines") {
  const std::string message = "Subject: x\r\nFrom: a@b.test\r\n\r\nl1\r\nl2\r\n\r\nl4\r\n";
  CHECK(missive::header_section(message) == "Subject: x\r\nFrom: a@b.test\r\n\r\n");
  CHECK(missive::first_body_lines(message, 0) == "");
  CHECK(missive::first_body_lines(message, 1) == "l1\r\n");
  CHECK(missive::first_body_lines(message, 2) == "l1\r\nl2\r\n");
  CHECK(missive::first_body_lines(message, 3) == "l1\r\nl2\r\n\r\n");
  CHECK(missive::first_body_lines(message, 4) == "l1\r\nl2\r\n\r\nl4\r\n");
  CHECK(missive::first_body_lines(message, 100) == "l1\r\nl2\r\n\r\nl4\r\n");

  // No empty line: all header, no body.
  CHECK(missive::header_section("Subject: x\r\nbody?\r\n") == "Subject: x\r\nbody?\r\n");
  CHECK(missive::first_body_lines("Subject: x\r\nbody?\r\n", 5) == "");
  // Starting with the empty line: an empty header section.
  CHECK(missive::header_section("\r\nbody\r\n") == "\r\n");
  CHECK(missive::first_body_lines("\r\nbody\r\nmore\r\n", 1) == "body\r\n");
  // A last line without CRLF is given as it is.
  CHECK(missive::first_body_lines("A: b\r\n\r\nl1\r\nl2", 5) == "l1\r\nl2");
  CHECK(missive::first_body_lines("A: b\r\n\r\n", 5) == "");
  CHECK(missive::header_section("") == "");
  CHECK(missive::first_body_lines("", 3) == "");
}

TEST_CASE("scan_headers: Return-Path and Delivered-To") {
  auto summary = missive::scan_headers(
      "Return-Path: <a@b.test>\r\nDelivered-To:  Alice@Example.test \r\n"
      "delivered-to: bob@example.test\r\nSubject: x\r\n\r\nDelivered-To: body@example.test\r\n");
  CHECK(summary.has_return_path);
  CHECK(summary.delivered_to == std::vector<std::string>{"Alice@Example.test", "bob@example.test"});
  auto plain = missive::scan_headers("Subject: x\r\n\r\nReturn-Path: <in@body>\r\n");
  CHECK_FALSE(plain.has_return_path);
  CHECK(plain.delivered_to.empty());
}

TEST_CASE("remove_header_fields") {
  struct removal_case {
    std::string message;
    std::string expected;
    std::vector<std::string> removed;
  };
  const std::vector<removal_case> cases = {
      {"Return-Path: <a@b>\r\nSubject: x\r\n\r\nReturn-Path: <body>\r\n",
       "Subject: x\r\n\r\nReturn-Path: <body>\r\n", {" <a@b>\r\n"}},
      {"Subject: x\r\nRETURN-PATH:\r\n <folded@b>\r\nreturn-path: <c@d>\r\nTo: y\r\n\r\nbody",
       "Subject: x\r\nTo: y\r\n\r\nbody", {"\r\n <folded@b>\r\n", " <c@d>\r\n"}},
      {"Subject: x\r\n Return-Path: folded into Subject\r\n\r\n",
       "Subject: x\r\n Return-Path: folded into Subject\r\n\r\n", {}},
      {"Return-Pathx: <a@b>\r\n\r\n", "Return-Pathx: <a@b>\r\n\r\n", {}},
      {"Return-Path \t: <obsolete@b>\r\nTo: y\r\n\r\n", "To: y\r\n\r\n", {" <obsolete@b>\r\n"}},
      {"Return-Path: <only@b>\r\n", "", {" <only@b>\r\n"}},
      {"Return-Path: <lf@b>\nSubject: lf\n\nbody\n", "Subject: lf\n\nbody\n", {" <lf@b>\n"}},
      {"\r\nReturn-Path: <body@b>\r\n", "\r\nReturn-Path: <body@b>\r\n", {}},
      {"", "", {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    std::vector<std::string> removed;
    CHECK(missive::remove_header_fields(c.message, "Return-Path", &removed) == c.expected);
    CHECK(removed == c.removed);
  }
}
