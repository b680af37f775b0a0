// Unit tests for message composition (mime_compose): headers, transfer encodings, multipart.
#include <doctest/doctest.h>

#include <string>

#include "mime_compose.hpp"
#include "mime_encoding.hpp"
#include "mime_parse.hpp"

using namespace missive::mime;

namespace {

outgoing_message sample() {
  outgoing_message m;
  m.from = {"Bob", "bob@example.test"};
  m.to = {{"", "alice@example.test"}, {"Carol Été", "carol@example.test"}};
  m.cc = {{"", "dave@example.test"}};
  m.subject = "Hello";
  m.body = "Hi Alice\nbye\n";
  m.date = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  m.message_id = "123.abc@example.test";
  m.boundary = "=_b";
  return m;
}

// Whether every line of `text` (CRLF-separated) is at most `limit` characters.
bool lines_within(const std::string& text, std::size_t limit) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find("\r\n", pos);
    if (end == std::string::npos) end = text.size();
    if (end - pos > limit) return false;
    pos = end + 2;
  }
  return true;
}

}  // namespace

TEST_CASE("a plain ASCII message is 7bit text/plain") {
  std::string out = compose_message(sample());
  CHECK(out.starts_with("Date: Fri, 15 Jan 2027 08:00:00 +0000\r\nMessage-ID: <123.abc@example.test>\r\n"
                        "From: Bob <bob@example.test>\r\n"));
  CHECK(out.find("To: alice@example.test, =?UTF-8?B?") != std::string::npos);
  CHECK(out.find("Cc: dave@example.test\r\n") != std::string::npos);
  CHECK(out.find("Subject: Hello\r\n") != std::string::npos);
  CHECK(out.find("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
                 "Hi Alice\r\nbye\r\n") != std::string::npos);
  CHECK(out.find("Bcc") == std::string::npos);
  CHECK(lines_within(out, 78));
  CHECK(is_ascii(out));
}

TEST_CASE("non-ASCII or long lines make quoted-printable; subjects become encoded-words") {
  auto m = sample();
  m.body = "Grüße\n" + std::string(200, 'y') + "\n";
  m.subject = "Grüße";
  std::string out = compose_message(m);
  CHECK(out.find("Content-Transfer-Encoding: quoted-printable") != std::string::npos);
  CHECK(out.find("Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n") != std::string::npos);
  CHECK(is_ascii(out));
  CHECK(lines_within(out, 78));
  auto view = parse_message(out);
  CHECK(view.subject == "Grüße");
  CHECK(view.text == "Grüße\n" + std::string(200, 'y') + "\n");
  CHECK(view.to == "alice@example.test, Carol Été <carol@example.test>");
}

TEST_CASE("attachments make multipart/mixed with base64 parts") {
  auto m = sample();
  std::string binary;
  for (int i = 0; i < 5000; ++i) binary += char(i % 256);
  m.attachments.push_back({"data.bin", guess_content_type("data.bin"), binary});
  m.attachments.push_back({"Résumé.PDF", guess_content_type("Résumé.PDF"), "%PDF-1.4"});
  std::string out = compose_message(m);
  CHECK(out.find("Content-Type: multipart/mixed;\r\n boundary=\"=_b\"") != std::string::npos);
  CHECK(out.find("filename*=utf-8''R%C3%A9sum%C3%A9.PDF") != std::string::npos);
  CHECK(lines_within(out, 78));
  auto view = parse_message(out);
  CHECK(view.text == "Hi Alice\nbye\n");
  REQUIRE(view.attachments.size() == 2);
  CHECK(view.attachments[0].filename == "data.bin");
  CHECK(view.attachments[0].content_type == "application/octet-stream");
  CHECK(view.attachments[0].size == binary.size());
  CHECK(view.attachments[1].filename == "Résumé.PDF");
  CHECK(view.attachments[1].content_type == "application/pdf");
}

TEST_CASE("the boundary never occurs in the content") {
  auto m = sample();
  m.body = "--=_b\n";
  m.attachments.push_back({"a.txt", "text/plain", "x"});
  std::string out = compose_message(m);
  CHECK(out.find("boundary=\"=_b0\"") != std::string::npos);
}

TEST_CASE("content types from file names") {
  CHECK(guess_content_type("a.txt") == "text/plain");
  CHECK(guess_content_type("A.HTML") == "text/html");
  CHECK(guess_content_type("x.jpeg") == "image/jpeg");
  CHECK(guess_content_type("x.jpg") == "image/jpeg");
  CHECK(guess_content_type("x.png") == "image/png");
  CHECK(guess_content_type("x.gif") == "image/gif");
  CHECK(guess_content_type("x.zip") == "application/zip");
  CHECK(guess_content_type("x.json") == "application/json");
  CHECK(guess_content_type("x.csv") == "text/csv");
  CHECK(guess_content_type("x.pdf") == "application/pdf");
  CHECK(guess_content_type("Makefile") == "application/octet-stream");
  CHECK(guess_content_type("x.tar.gz") == "application/octet-stream");
}

TEST_CASE("split_mailbox") {
  CHECK(split_mailbox("a@b.c").address == "a@b.c");
  CHECK(split_mailbox("Bob <a@b.c>").display_name == "Bob");
  CHECK(split_mailbox("Bob <a@b.c>").address == "a@b.c");
  CHECK(split_mailbox("\"Smith, Bob\" <a@b.c>").display_name == "Smith, Bob");
}

TEST_CASE("a forwarded message goes as message/rfc822, as it is, never base64") {
  auto m = sample();
  const std::string inner =
      "From: x@example.test\r\nSubject: Plan\r\nMessage-ID: <p@x>\r\n\r\nLine one\r\n";
  m.attachments.push_back({"", "message/rfc822", inner});
  m.extra_fields.push_back({"In-Reply-To", "<p@x>"});
  auto out = compose_message(m);
  CHECK(out.find("Subject: Hello\r\nIn-Reply-To: <p@x>\r\nMIME-Version: 1.0\r\n") != std::string::npos);
  CHECK(out.find("Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n"
                 "Content-Transfer-Encoding: 7bit\r\n\r\n" + inner + "\r\n--=_b--\r\n") !=
        std::string::npos);

  // Not ASCII: 8bit (RFC 2046 5.2.1 allows no other encoding); bare LF becomes CRLF.
  m.attachments = {{"", "message/rfc822", "Subject: Grüße\n\nbody"}};
  out = compose_message(m);
  CHECK(out.find("Content-Transfer-Encoding: 8bit\r\n\r\nSubject: Grüße\r\n\r\nbody\r\n") !=
        std::string::npos);
}
