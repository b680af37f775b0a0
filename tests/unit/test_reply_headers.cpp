// Unit tests for reply composition: who a reply goes to, "Re:" once, and In-Reply-To and
// References as RFC 5322 3.6.4 builds them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "mime_parse.hpp"
#include "reply_headers.hpp"

namespace {

using missive::client::compose_reply_fields;
using missive::client::forward_subject;
using missive::client::quote_text;
using missive::client::reply_subject;

std::vector<missive::mime::header_field> fields(std::string head) {
  return missive::mime::parse_header_fields(head);
}

using list = std::vector<std::string>;

}  // namespace

TEST_CASE("reply_subject and forward_subject: the prefix once") {
  CHECK(reply_subject("Plan") == "Re: Plan");
  CHECK(reply_subject("Re: Plan") == "Re: Plan");
  CHECK(reply_subject("RE: Plan") == "RE: Plan");
  CHECK(reply_subject("  Plan  ") == "Re: Plan");
  CHECK(reply_subject("") == "Re: ");
  CHECK(reply_subject("Fwd: Plan") == "Re: Fwd: Plan");
  CHECK(forward_subject("Plan") == "Fwd: Plan");
  CHECK(forward_subject("fwd: Plan") == "fwd: Plan");
}

TEST_CASE("compose_reply_fields: To from Reply-To, else From") {
  auto plain = compose_reply_fields(
      fields("From: Bob <bob@b.test>\r\nTo: me@a.test\r\nSubject: Hi\r\n\r\n"), "me@a.test", false);
  CHECK(plain.to == list{"bob@b.test"});
  CHECK(plain.cc.empty());
  CHECK(plain.subject == "Re: Hi");

  auto listed = compose_reply_fields(
      fields("From: bob@b.test\r\nReply-To: list@l.test\r\nTo: me@a.test\r\n\r\n"), "me@a.test",
      false);
  CHECK(listed.to == list{"list@l.test"});
}

TEST_CASE("compose_reply_fields --all: the others, never the user, no duplicates") {
  auto all = compose_reply_fields(
      fields("From: bob@b.test\r\nTo: Me <ME@a.test>, carol@c.test\r\n"
             "Cc: bob@b.test, dave@d.test, carol@c.test\r\n\r\n"),
      "me@a.test", true);
  CHECK(all.to == list{"bob@b.test"});
  CHECK(all.cc == list{"carol@c.test", "dave@d.test"});

  // A reply to one's own message goes to its recipients.
  auto own = compose_reply_fields(
      fields("From: me@a.test\r\nTo: bob@b.test\r\nCc: carol@c.test\r\n\r\n"), "me@a.test", true);
  CHECK(own.to == list{"bob@b.test"});
  CHECK(own.cc == list{"carol@c.test"});
  auto own_plain = compose_reply_fields(fields("From: me@a.test\r\nTo: bob@b.test\r\n\r\n"),
                                        "me@a.test", false);
  CHECK(own_plain.to == list{"bob@b.test"});
}

TEST_CASE("compose_reply_fields: RFC 5322 3.6.4 In-Reply-To and References") {
  // The parent's References, then its Message-ID.
  auto chained = compose_reply_fields(
      fields("From: b@b.test\r\nMessage-ID: <3@x>\r\nIn-Reply-To: <2@x>\r\n"
             "References: <1@x>\r\n <2@x>\r\n\r\n"),
      "me@a.test", false);
  CHECK(chained.in_reply_to == "<3@x>");
  CHECK(chained.references == "<1@x>\r\n <2@x>\r\n <3@x>");

  // No References: the parent's In-Reply-To when it holds one id.
  auto from_parent = compose_reply_fields(
      fields("From: b@b.test\r\nMessage-ID: <3@x>\r\nIn-Reply-To: <2@x>\r\n\r\n"), "me@a.test",
      false);
  CHECK(from_parent.references == "<2@x>\r\n <3@x>");
  auto ambiguous = compose_reply_fields(
      fields("From: b@b.test\r\nMessage-ID: <3@x>\r\nIn-Reply-To: <2@x> <9@x>\r\n\r\n"),
      "me@a.test", false);
  CHECK(ambiguous.references == "<3@x>");

  // No Message-ID: neither field can name the parent.
  auto anonymous = compose_reply_fields(fields("From: b@b.test\r\n\r\n"), "me@a.test", false);
  CHECK(anonymous.in_reply_to.empty());
  CHECK(anonymous.references.empty());
}

TEST_CASE("quote_text: \"> \" before each line, \">\" before an empty one") {
  CHECK(quote_text("one\ntwo\n") == "> one\n> two\n");
  CHECK(quote_text("one\r\n\r\nthree") == "> one\n>\n> three\n");
  CHECK(quote_text("") == "");
}
