// Unit tests for SMTP reply formatting (RFC 5321 4.2, 4.5.3.1.5, RFC 2034).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "limits.hpp"
#include "smtp_reply.hpp"

TEST_CASE("format_reply: exact wire lines") {
  struct reply_case {
    missive::smtp_reply reply;
    std::string wire;
  };
  const std::vector<reply_case> cases = {
      {{250, "", "OK"}, "250 OK\r\n"},
      {{250, "2.1.0", "Sender OK"}, "250 2.1.0 Sender OK\r\n"},
      {{354, "", "End data with <CR><LF>.<CR><LF>"}, "354 End data with <CR><LF>.<CR><LF>\r\n"},
      {{250, "", "mx.example.test\nPIPELINING\nSIZE 10240000\n8BITMIME"},
       "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"},
      {{550, "5.1.1", "No such user\nTry again"},
       "550-5.1.1 No such user\r\n550 5.1.1 Try again\r\n"},
      {{250, "2.0.0", ""}, "250 2.0.0\r\n"},
      {{250, "", ""}, "250\r\n"},
      {{250, "", "a\n"}, "250 a\r\n"},
      {{250, "", "a\n\nb"}, "250-a\r\n250-\r\n250 b\r\n"},
      {{250, "2.0.0", "a\n\nb"}, "250-2.0.0 a\r\n250-2.0.0\r\n250 2.0.0 b\r\n"},
      // A CR in the text never reaches the wire inside a line.
      {{250, "", "a\r\nb"}, "250-a\r\n250 b\r\n"},
      {{250, "", "a\rb"}, "250 ab\r\n"},
      {{250, "", "\r"}, "250\r\n"},
      {{421, "4.4.2", "mx.example.test closing: idle"},
       "421 4.4.2 mx.example.test closing: idle\r\n"},
  };
  for (const auto& c : cases) {
    INFO("text: ", c.reply.text);
    CHECK(missive::format_reply(c.reply) == c.wire);
    std::string out = "prefix";
    missive::append_reply(out, c.reply);
    CHECK(out == "prefix" + c.wire);
  }
}

TEST_CASE("format_reply: lines are cut to RFC 5321 4.5.3.1.5's 512 octets") {
  const std::size_t max = missive::limits::smtp_reply_line;  // including CRLF
  // "250 " + 506 octets + CRLF is exactly 512.
  CHECK(missive::format_reply({250, "", std::string(506, 'x')}) ==
        "250 " + std::string(506, 'x') + "\r\n");
  CHECK(missive::format_reply({250, "", std::string(507, 'x')}) ==
        "250 " + std::string(506, 'x') + "\r\n");
  CHECK(missive::format_reply({250, "", std::string(5000, 'x')}).size() == max);
  CHECK(missive::format_reply({550, "5.0.0", std::string(600, 'y')}) ==
        "550 5.0.0 " + std::string(500, 'y') + "\r\n");
  auto two = missive::format_reply({250, "", std::string(600, 'a') + "\n" + std::string(600, 'b')});
  CHECK(two == "250-" + std::string(506, 'a') + "\r\n250 " + std::string(506, 'b') + "\r\n");
  // A UTF-8 character is not split by the cut: "é" would straddle it and is dropped whole.
  CHECK(missive::format_reply({250, "", std::string(505, 'x') + "\xc3\xa9" + "tail"}) ==
        "250 " + std::string(505, 'x') + "\r\n");
  CHECK(missive::format_reply({250, "", std::string(504, 'x') + "\xc3\xa9" + "tail"}) ==
        "250 " + std::string(504, 'x') + "\xc3\xa9\r\n");
  // Stray CRs do not count towards the limit.
  CHECK(missive::format_reply({250, "", std::string(506, 'x') + "\r"}) ==
        "250 " + std::string(506, 'x') + "\r\n");
}
