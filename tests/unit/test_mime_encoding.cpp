// Unit tests for the MIME encodings (RFC 2045 quoted-printable and base64, RFC 2047
// encoded-words, RFC 2231 parameters) and iconv charset conversion.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "base64.hpp"
#include "mime_encoding.hpp"

using namespace missive::mime;

namespace {

// The lines of `text` split at CRLF (the last, empty piece after a final CRLF dropped).
std::vector<std::string> crlf_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find("\r\n", pos);
    if (end == std::string::npos) {
      lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

}  // namespace

TEST_CASE("quoted-printable: encoding rules and 76-column lines") {
  CHECK(quoted_printable_encode("plain text") == "plain text");
  CHECK(quoted_printable_encode("a=b") == "a=3Db");
  CHECK(quoted_printable_encode("café") == "caf=C3=A9");
  CHECK(quoted_printable_encode("trailing \nnext\t\n") == "trailing=20\r\nnext=09\r\n");
  CHECK(quoted_printable_encode("one\r\ntwo") == "one\r\ntwo");

  for (std::size_t length : {70u, 75u, 76u, 77u, 150u, 1000u}) {
    for (const std::string unit : {"x", "é", "=", " x"}) {
      std::string text;
      while (text.size() < length) text += unit;
      std::string encoded = quoted_printable_encode(text + "\nend");
      for (const auto& line : crlf_lines(encoded)) {
        CHECK(line.size() <= 76);
      }
      CHECK(quoted_printable_decode(encoded) == text + "\r\nend");
    }
  }
}

TEST_CASE("quoted-printable: decoding") {
  CHECK(quoted_printable_decode("soft=\r\nbreak") == "softbreak");
  CHECK(quoted_printable_decode("soft=\nbreak") == "softbreak");
  CHECK(quoted_printable_decode("caf=c3=a9") == "café");
  CHECK(quoted_printable_decode("spaces   \r\nx") == "spaces\r\nx");
  CHECK(quoted_printable_decode("bad=ZZ and =4") == "bad=ZZ and =4");
}

TEST_CASE("base64 in 76-column lines") {
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += char(i * 7);
  std::string encoded = base64_encode_lines(bytes);
  auto lines = crlf_lines(encoded);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i + 1 < lines.size()) CHECK(lines[i].size() == 76);
    else CHECK(lines[i].size() <= 76);
  }
  CHECK(encoded.ends_with("\r\n"));
  CHECK(base64_decode_lenient(encoded) == bytes);
  CHECK(base64_encode_lines("") == "");
  CHECK(base64_decode_lenient("aGk=\r\n") == "hi");
  CHECK(base64_decode_lenient("aGk") == "hi");
}

TEST_CASE("7bit safety") {
  CHECK(is_7bit_safe("hello\nworld\r\n"));
  CHECK_FALSE(is_7bit_safe("café"));
  CHECK_FALSE(is_7bit_safe(std::string(999, 'a')));
  CHECK(is_7bit_safe(std::string(998, 'a')));
  CHECK_FALSE(is_7bit_safe("bare\rcr"));
  CHECK_FALSE(is_7bit_safe(std::string("nul\0", 4)));
  CHECK(to_crlf("a\nb\r\nc\rd") == "a\r\nb\r\nc\r\nd");
}

TEST_CASE("unstructured fields: ASCII folding and RFC 2047 encoded-words") {
  CHECK(encode_unstructured_field("Subject", "Hello") == "Subject: Hello\r\n");
  std::string long_ascii;
  for (int i = 0; i < 30; ++i) long_ascii += "word" + std::to_string(i) + " ";
  long_ascii.pop_back();
  std::string folded = encode_unstructured_field("Subject", long_ascii);
  for (const auto& line : crlf_lines(folded)) CHECK(line.size() <= 78);
  CHECK(decode_header_value(folded.substr(9, folded.size() - 11)) == long_ascii);

  for (const std::string subject :
       {"Réunion", "日本語のテキストがここにあります。とても長い件名で折り返しが必要です。日本語のテキスト",
        "Grüße aus Köln — mit einem recht langen Betreff, der gefaltet werden muss, äöü ÄÖÜ ß",
        "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀"}) {
    CAPTURE(subject);
    std::string field = encode_unstructured_field("Subject", subject);
    CHECK(is_ascii(field));
    for (const auto& line : crlf_lines(field)) {
      CHECK(line.size() <= 78);
      // Every encoded-word is at most 75 characters (RFC 2047 2).
      std::size_t pos = 0;
      while ((pos = line.find("=?", pos)) != std::string::npos) {
        auto end = line.find("?=", pos + 10);
        REQUIRE(end != std::string::npos);
        CHECK(end + 2 - pos <= 75);
        pos = end + 2;
      }
    }
    CHECK(decode_header_value(field.substr(9, field.size() - 11)) == subject);
  }
}

TEST_CASE("decoding encoded-words") {
  CHECK(decode_header_value("=?UTF-8?B?Q2Fmw6k=?=") == "Café");
  CHECK(decode_header_value("=?iso-8859-1?q?caf=E9_cr=E8me?=") == "café crème");
  CHECK(decode_header_value("=?UTF-8?Q?a?= =?UTF-8?Q?b?=") == "ab");
  CHECK(decode_header_value("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?= c") == "ab c");
  CHECK(decode_header_value("x =?UTF-8?Q?a?= y") == "x a y");
  CHECK(decode_header_value("=?utf-8*en?B?aGk=?=") == "hi");
  CHECK(decode_header_value("not =?encoded") == "not =?encoded");
  CHECK(decode_header_value("=?x-unknown-charset?Q?abc?=") == "abc");
  // A character split across two words of one charset is joined before conversion.
  CHECK(decode_header_value("=?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9?=") == "café");
}

TEST_CASE("phrases and RFC 2231 parameters") {
  CHECK(encode_phrase("Bob Smith") == "Bob Smith");
  CHECK(encode_phrase("Smith, Bob") == "\"Smith, Bob\"");
  CHECK(encode_phrase("say \"hi\"") == "\"say \\\"hi\\\"\"");
  CHECK(encode_phrase("Élodie").starts_with("=?UTF-8?B?"));
  CHECK(encode_parameter("filename", "a b.txt") == "filename=\"a b.txt\"");
  CHECK(encode_parameter("filename", "résumé.pdf") == "filename*=utf-8''r%C3%A9sum%C3%A9.pdf");
  std::string long_name = encode_parameter("filename", std::string(40, 'x') + "éééééééééééééééé.txt");
  CHECK(long_name.find("filename*0*=utf-8''") == 0);
  CHECK(long_name.find(";\r\n filename*1*=") != std::string::npos);
}

TEST_CASE("charset conversion") {
  CHECK(to_utf8("caf\xe9", "iso-8859-1") == "café");
  CHECK(to_utf8("caf\xe9", "windows-1252") == "café");
  CHECK(to_utf8("café", "utf-8") == "café");
  CHECK(to_utf8("caf\xe9", "utf-8") == "caf\xEF\xBF\xBD");
  CHECK_FALSE(to_utf8("x", "no-such-charset").has_value());
}

TEST_CASE("found by fuzzing: a final lone CR survives quoted-printable; UTF-8 out is valid") {
  CHECK(quoted_printable_encode("abc\r") == "abc=0D");
  CHECK(quoted_printable_decode(quoted_printable_encode("\r")) == "\r");
  // glibc's iconv lets code points above U+10FFFF through; they become U+FFFD.
  CHECK(to_utf8("(\xf4\x90\x80\x80", "") == "(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(to_utf8("\xed\xa0\x80", "utf-8") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  CHECK(to_utf8("ok \xf0\x9f\x93\xa7", "utf-8") == "ok \xf0\x9f\x93\xa7");
}
