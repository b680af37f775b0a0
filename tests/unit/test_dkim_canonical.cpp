// Unit tests of DKIM's relaxed canonicalization (RFC 6376 3.4.2, 3.4.4, and the example of
// 3.4.5) and of finding the From: domain: pure code.
#include <doctest/doctest.h>

#include <string>

#include "base64.hpp"
#include "dkim_canonical.hpp"
#include "dkim_signer.hpp"

using namespace missive;

namespace {

std::string body_hash_of(std::string_view body, std::size_t piece = 0) {
  relaxed_body_hash hash;
  if (piece == 0) {
    hash.update(body);
  } else {
    for (std::size_t at = 0; at < body.size(); at += piece) hash.update(body.substr(at, piece));
  }
  return base64_encode(hash.finish());
}

std::string sha256_base64(std::string_view text) {
  relaxed_body_hash plain;  // text that relaxed canonicalization leaves as it is
  plain.update(text);
  return base64_encode(plain.finish());
}

}  // namespace

TEST_CASE("relaxed header canonicalization (RFC 6376 3.4.5)") {
  CHECK(relaxed_header("A: X\r\n") == "a:X\r\n");
  CHECK(relaxed_header("B : Y\t\r\n\tZ  \r\n") == "b:Y Z\r\n");
  CHECK(relaxed_header("SubJect:   many   blanks\there \r\n") == "subject:many blanks here\r\n");
}

TEST_CASE("relaxed body canonicalization (RFC 6376 3.4.5) and its hash") {
  // " C \r\nD \t E\r\n\r\n\r\n" canonicalizes to " C\r\nD E\r\n".
  CHECK(body_hash_of(" C \r\nD \t E\r\n\r\n\r\n") == sha256_base64(" C\r\nD E\r\n"));
  // The same fed one octet, or three, at a time.
  CHECK(body_hash_of(" C \r\nD \t E\r\n\r\n\r\n", 1) == sha256_base64(" C\r\nD E\r\n"));
  CHECK(body_hash_of(" C \r\nD \t E\r\n\r\n\r\n", 3) == sha256_base64(" C\r\nD E\r\n"));
  // An empty body, and one of empty lines only, hash nothing: SHA-256 of "".
  CHECK(body_hash_of("") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  CHECK(body_hash_of("\r\n\r\n") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  // A last line without CRLF gets one.
  CHECK(body_hash_of("text") == sha256_base64("text\r\n"));
}

TEST_CASE("header fields are split with their continuation lines, up to the empty line") {
  auto fields = split_header_fields("From: a@b\r\nSubject: one\r\n two\r\n\r\nBody: no\r\n");
  REQUIRE(fields.size() == 2);
  CHECK(fields[0].name == "From");
  CHECK(fields[1].text == "Subject: one\r\n two\r\n");
}

TEST_CASE("the From: domain") {
  CHECK(from_domain("From: Alice <alice@A.Test>\r\n") == "a.test");
  CHECK(from_domain("From: alice@a.test\r\n") == "a.test");
  CHECK(from_domain("From: \"x@y\" <bob@b.test>, carol@c.test\r\n") == "b.test");
  CHECK(from_domain("From: nobody\r\n").empty());
}
