// Unit tests for reading messages (mime_parse): fields, Content-Type, the MIME walk,
// address lists and dates.
#include <doctest/doctest.h>

#include <string>

#include "mime_parse.hpp"

using namespace missive::mime;

TEST_CASE("header fields: folding, names case-insensitive") {
  auto fields = parse_header_fields("Subject: one\r\n two\r\nfrom: a@b\r\n\r\nbody: no\r\n");
  REQUIRE(fields.size() == 2);
  CHECK(find_field(fields, "SUBJECT") == "one\r\n two");
  CHECK(find_field(fields, "From") == "a@b");
  CHECK_FALSE(find_field(fields, "body").has_value());
}

TEST_CASE("Content-Type parameters: quoting, comments, RFC 2231") {
  auto t = parse_content_type("Text/HTML; charset=\"ISO-8859-1\" (comment); format=flowed");
  CHECK(t.mime_type() == "text/html");
  CHECK(t.parameters["charset"] == "ISO-8859-1");
  CHECK(t.parameters["format"] == "flowed");
  CHECK(parse_content_type("garbage").mime_type() == "text/plain");
  auto a = parse_disposition("attachment; filename*=iso-8859-1'fr'r%E9sum%E9.txt");
  CHECK(a.type == "attachment");
  CHECK(a.parameters["filename"] == "résumé.txt");
  auto c = parse_disposition("attachment; filename*0*=utf-8''caf%C3; filename*1*=%A9; filename*2=\".txt\"");
  CHECK(c.parameters["filename"] == "café.txt");
}

TEST_CASE("a nested multipart message") {
  std::string raw =
      "From: =?iso-8859-1?q?Andr=E9?= <andre@x.test>\r\n"
      "To: a@x.test\r\n"
      "Subject: =?UTF-8?B?w6l0w6k=?=\r\n"
      "Content-Type: multipart/mixed; boundary=outer\r\n"
      "\r\n"
      "preamble\r\n"
      "--outer\r\n"
      "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
      "\r\n"
      "--inner\r\n"
      "Content-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "caf=E9 cr=E8me=\r\n"
      " br=FBl=E9e\r\n"
      "--inner\r\n"
      "Content-Type: text/html\r\n"
      "\r\n"
      "<p>html</p>\r\n"
      "--inner--\r\n"
      "--outer\r\n"
      "Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "JVBERi0x\r\nLjQ=\r\n"
      "--outer\r\n"
      "Content-Type: image/png\r\n"
      "Content-Disposition: attachment; filename=\"=?UTF-8?Q?b=C3=A9?=.png\"\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "\r\n"
      "iVBORw==\r\n"
      "--outer--\r\n"
      "epilogue\r\n";
  auto view = parse_message(raw);
  CHECK(view.from == "André <andre@x.test>");
  CHECK(view.subject == "été");
  // The line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
  CHECK(view.text == "café crème brûlée");
  REQUIRE(view.attachments.size() == 2);
  CHECK(view.attachments[0].filename == "doc.pdf");
  CHECK(view.attachments[0].content_type == "application/pdf");
  CHECK(view.attachments[0].size == 8);
  CHECK(view.attachments[1].filename == "bé.png");
  CHECK(view.attachments[1].size == 4);
}

TEST_CASE("a single-part base64 message and one without MIME") {
  auto b = parse_message("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                         "Q2Fmw6kK\r\n");
  CHECK(b.text == "Café\n");
  auto plain = parse_message("Subject: x\n\nline one\nline two\n");
  CHECK(plain.subject == "x");
  CHECK(plain.text == "line one\nline two\n");
  CHECK(plain.attachments.empty());
}

TEST_CASE("deep nesting stops at the limit") {
  std::string raw;
  for (int i = 0; i < 100; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  raw += "\r\nleaf\r\n";
  auto view = parse_message(raw);  // must not crash or recurse without end
  CHECK(view.text.empty());
}

TEST_CASE("address lists") {
  using list = std::vector<std::string>;
  CHECK(parse_address_list("a@b.c") == list{"a@b.c"});
  CHECK(parse_address_list("Bob <bob@x.test>, \"Smith, J\" <j@x.test>") == list{"bob@x.test", "j@x.test"});
  CHECK(parse_address_list("a@x.test (Alice), b@x.test") == list{"a@x.test", "b@x.test"});
  CHECK(parse_address_list("undisclosed-recipients:;").empty());
  CHECK(parse_address_list("team: a@x.test, b@x.test;, c@x.test") == list{"a@x.test", "b@x.test", "c@x.test"});
  CHECK(parse_address_list("=?UTF-8?B?w6k=?= <e@x.test>,\r\n f@x.test") == list{"e@x.test", "f@x.test"});
}

TEST_CASE("RFC 5322 dates") {
  CHECK(parse_rfc5322_date("Thu, 01 Jan 1970 00:00:00 +0000") == 0);
  CHECK(parse_rfc5322_date("Fri, 15 Jan 2027 08:00:00 +0000") == 1'800'000'000);
  CHECK(parse_rfc5322_date("15 Jan 2027 09:00:00 +0100") == 1'800'000'000);
  CHECK(parse_rfc5322_date("Fri, 15 Jan 2027 03:00 -0500 (EST)") == 1'800'000'000);
  CHECK(parse_rfc5322_date("Sat, 29 Feb 2020 12:00:00 GMT") == 1'582'977'600);
  CHECK_FALSE(parse_rfc5322_date("yesterday").has_value());
  CHECK_FALSE(parse_rfc5322_date("").has_value());
}
