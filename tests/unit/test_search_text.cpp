// Unit tests for what the search index holds of a message: decoded text, whatever the
// transfer encoding and charset.
#include <doctest/doctest.h>

#include <string>

#include "search_text.hpp"

using missive::client::make_search_document;

TEST_CASE("make_search_document: decoded fields and body") {
  // "Grüße aus Zürich" in UTF-8, base64.
  const std::string raw =
      "From: =?utf-8?q?J=C3=BCrg?= <jurg@example.test>\r\n"
      "To: alice@example.test\r\nCc: Carol <carol@example.test>\r\n"
      "Subject: =?iso-8859-1?q?caf=E9?=\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n"
      "R3LDvMOfZSBhdXMgWsO8cmljaA==\r\n";
  auto doc = make_search_document(raw);
  CHECK(doc.sender == "Jürg <jurg@example.test>");
  CHECK(doc.recipients == "alice@example.test, Carol <carol@example.test>");
  CHECK(doc.subject == "café");
  CHECK(doc.body == "Grüße aus Zürich");
}

TEST_CASE("make_search_document: quoted-printable Latin-1 text and attachment names") {
  const std::string raw =
      "From: b@example.test\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\ncr=E8me br=FBl=E9e\r\n"
      "--b\r\nContent-Type: application/pdf; name=\"quarterly.pdf\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n";
  auto doc = make_search_document(raw);
  CHECK(doc.body == "crème brûlée\nquarterly.pdf");
  CHECK(doc.recipients.empty());
}
