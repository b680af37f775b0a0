// Unit tests of DKIM's relaxed canonicalization (RFC 6376 3.4.2, 3.4.4, and the example of
// 3.4.5) and of finding the From: domain: pure code.
#include <doctest/doctest.h>

#include <string>

#include "base64.hpp"
#include "dkim_canonical.hpp"
#include "dkim_signer.hpp"
#include "dkim_tags.hpp"
#include "dkim_verify.hpp"

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
  // A colon inside the value is text like any other: the blanks after it stay one space.
  CHECK(relaxed_header("Subject: Re: hello\r\n") == "subject:Re: hello\r\n");
  CHECK(relaxed_header("DKIM-Signature: h=from : to :\r\n date\r\n") ==
        "dkim-signature:h=from : to : date\r\n");
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

TEST_CASE("DKIM-Signature tags (RFC 6376 3.5) and what makes one unverifiable") {
  auto ok = parse_dkim_signature(
      " v=1; a=rsa-sha256; c=relaxed; d=Sig.Test;\r\n i=@mail.sig.test; s=s1; h=From : To;\r\n"
      " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n b=AAAA\r\n AAAA");
  REQUIRE(ok.tags);
  CHECK(ok.tags->domain == "sig.test");
  CHECK(ok.tags->relaxed_header);
  CHECK_FALSE(ok.tags->relaxed_body);  // "relaxed" alone is relaxed/simple
  CHECK(ok.tags->header_names == std::vector<std::string>{"from", "to"});
  CHECK(ok.tags->signature.size() == 6);
  auto error_of = [](std::string_view value) { return parse_dkim_signature(value).error; };
  CHECK(error_of("v=1; a=rsa-sha1; d=x; s=s; h=from; bh=AAAA; b=AAAA") ==
        "algorithm rsa-sha1 is not accepted");
  CHECK(error_of("v=1; a=rsa-sha256; d=x; s=s; h=to; bh=AAAA; b=AAAA") == "h= does not sign From");
  CHECK(error_of("v=1; a=rsa-sha256; d=x.test; i=@y.test; s=s; h=from; bh=AAAA; b=AAAA") ==
        "i= is not in d=");
  CHECK(error_of("v=1; v=1; a=rsa-sha256") == "malformed tag list");
  CHECK(error_of("v=1; a=rsa-sha256; d=x; h=from; bh=AAAA; b=AAAA") == "no s= tag");
}

TEST_CASE("key records (RFC 6376 3.6.1)") {
  CHECK(parse_dkim_key_record("v=DKIM1; k=ed25519; p=AAAA").error.empty());
  CHECK(parse_dkim_key_record("v=DKIM1; p=").error == "key revoked (empty p=)");
  CHECK(parse_dkim_key_record("k=dsa; p=AAAA").error == "unknown key type dsa");
}

TEST_CASE("the signature's own b= value is removed, wherever it is") {
  CHECK(without_signature_value("DKIM-Signature: a=x; b=abc\r\n def; bh=xyz\r\n") ==
        "DKIM-Signature: a=x; b=; bh=xyz\r\n");
  CHECK(without_signature_value("DKIM-Signature: a=x; bh=xyz;\r\n b=abc\r\n def\r\n") ==
        "DKIM-Signature: a=x; bh=xyz;\r\n b=\r\n");
}
