// Unit tests for composing DSN bounces (RFC 3464, RFC 6522, RFC 3834).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bounce_message.hpp"

namespace {

using namespace std::chrono;

constexpr std::string_view original =
    "From: alice@a.test\r\nTo: bob@b.test, carol@c.test\r\nSubject: Hi\r\n\r\n"
    "secret body line\r\n";

missive::bounce_details sample_details() {
  missive::bounce_details details;
  details.reporting_mta = "mx.a.test";
  details.queue_id = "ABC123";
  details.original_sender = "alice@a.test";
  details.arrival = sys_days{2024y / March / 1} + 12h;
  details.now = sys_days{2024y / March / 3} + 12h;
  details.recipients.push_back({"bob@b.test", "5.1.1", "550 5.1.1 <bob@b.test>: No such user",
                                true, sys_days{2024y / March / 1} + 12h + 5s});
  details.recipients.push_back({"carol@c.test", "4.4.7", "message expired after 2 days", false,
                                sys_days{2024y / March / 3} + 11h + 59min});
  details.original_message = original;
  details.message_id = "<ABC123.bounce@mx.a.test>";
  details.boundary = "=_missive_ABC123";
  return details;
}

// The parts of a multipart body: what lies between the delimiters of `boundary`
// (RFC 2046 5.1.1: the CRLF before a delimiter belongs to it). [0] is the preamble and the
// last element is what follows the close delimiter.
std::vector<std::string> split_parts(std::string_view body, const std::string& boundary) {
  std::vector<std::string> parts;
  const std::string delimiter = "\r\n--" + boundary;
  std::string text = "\r\n" + std::string(body);
  std::size_t at = 0;
  for (;;) {
    auto next = text.find(delimiter, at);
    if (next == std::string::npos) break;
    parts.push_back(text.substr(at, next - at));
    if (parts.size() == 1 && !parts[0].empty()) parts[0].erase(0, 2);  // the CRLF added above
    at = next + delimiter.size();
    if (text.compare(at, 2, "--") == 0) {
      parts.push_back(text.substr(at + 2));
      return parts;
    }
    if (text.compare(at, 2, "\r\n") != 0) break;
    at += 2;
  }
  parts.push_back("unterminated");
  return parts;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto end = text.find("\r\n");
    lines.push_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 2);
  }
  return lines;
}

// Whether every CR and LF in `text` is part of a CRLF.
bool only_crlf(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return false;
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("compose_bounce: top-level headers") {
  auto bounce = missive::compose_bounce(sample_details());
  auto end = bounce.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  CHECK(bounce.substr(0, end + 4) ==
        "From: Mail Delivery System <MAILER-DAEMON@mx.a.test>\r\n"
        "To: alice@a.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Sun, 03 Mar 2024 12:00:00 +0000\r\n"
        "Message-ID: <ABC123.bounce@mx.a.test>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"=_missive_ABC123\"\r\n"
        "\r\n");
}

TEST_CASE("compose_bounce: three parts in a multipart/report") {
  auto bounce = missive::compose_bounce(sample_details());
  auto body = std::string_view(bounce).substr(bounce.find("\r\n\r\n") + 4);
  auto parts = split_parts(body, "=_missive_ABC123");
  REQUIRE(parts.size() == 5);
  CHECK(parts[0] == "This is a MIME-encapsulated message.\r\n");
  CHECK(parts[4] == "\r\n");  // nothing after the close delimiter but its line end
  CHECK(parts[1] ==
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "Content-Description: Notification\r\n"
        "\r\n"
        "This is the mail delivery system at mx.a.test.\r\n"
        "\r\n"
        "Your message could not be delivered to the recipients below. The delivery\r\n"
        "report and the headers of your message are attached.\r\n"
        "Queue ID: ABC123\r\n"
        "\r\n"
        "<bob@b.test>: the next mail server answered: 550 5.1.1 <bob@b.test>: No such\r\n"
        "    user\r\n"
        "<carol@c.test>: message expired after 2 days");
  CHECK(parts[2] ==
        "Content-Type: message/delivery-status\r\n"
        "Content-Description: Delivery report\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.a.test\r\n"
        "X-Missive-Queue-ID: ABC123\r\n"
        "Arrival-Date: Fri, 01 Mar 2024 12:00:00 +0000\r\n"
        "\r\n"
        "Final-Recipient: rfc822; bob@b.test\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <bob@b.test>: No such user\r\n"
        "Last-Attempt-Date: Fri, 01 Mar 2024 12:00:05 +0000\r\n"
        "\r\n"
        "Final-Recipient: rfc822; carol@c.test\r\n"
        "Action: failed\r\n"
        "Status: 4.4.7\r\n"
        "Diagnostic-Code: x-missive; message expired after 2 days\r\n"
        "Last-Attempt-Date: Sun, 03 Mar 2024 11:59:00 +0000");
  // The original header section comes back; the body does not.
  CHECK(parts[3] ==
        "Content-Type: text/rfc822-headers\r\n"
        "Content-Description: Undelivered Message Headers\r\n"
        "\r\n"
        "From: alice@a.test\r\nTo: bob@b.test, carol@c.test\r\nSubject: Hi\r\n");
  CHECK(bounce.find("secret body line") == std::string::npos);
  CHECK(bounce.ends_with("\r\n--=_missive_ABC123--\r\n"));
  CHECK(only_crlf(bounce));
}

TEST_CASE("compose_bounce: a hostile diagnostic cannot inject lines") {
  auto details = sample_details();
  const std::string hostile =
      std::string("550 no\r\nBcc: victim@x.test\r\n\r\n--=_missive_ABC123\r\nX-Evil: 1\n\rNUL") +
      '\0' + "here \x01\x1b[31m caf\xc3\xa9 \xff\t\tend ";
  details.recipients[0].diagnostic = hostile;
  details.recipients[1].diagnostic = hostile;
  auto bounce = missive::compose_bounce(details);

  CHECK(only_crlf(bounce));
  CHECK(std::none_of(bounce.begin(), bounce.end(), [](char c) {
    auto octet = static_cast<unsigned char>(c);
    return octet > 0x7F || (octet < 0x20 && c != '\r' && c != '\n');
  }));
  int delimiter_lines = 0;
  for (auto line : lines_of(bounce)) {
    CHECK_FALSE(line.starts_with("Bcc:"));
    CHECK_FALSE(line.starts_with("X-Evil:"));
    delimiter_lines += line.starts_with("--=_missive_ABC123");
  }
  CHECK(delimiter_lines == 4);  // three parts and the close, none from the diagnostic

  // Unfolded, each field is one line with the text made safe.
  const std::string safe =
      "550 no Bcc: victim@x.test --=_missive_ABC123 X-Evil: 1 NULhere [31m caf?? ? end";
  auto body = std::string_view(bounce).substr(bounce.find("\r\n\r\n") + 4);
  auto parts = split_parts(body, "=_missive_ABC123");
  REQUIRE(parts.size() == 5);
  std::string status = parts[2];
  for (auto fold = status.find("\r\n "); fold != std::string::npos; fold = status.find("\r\n "))
    status.erase(fold, 2);
  CHECK(status.find("Diagnostic-Code: smtp; " + safe + "\r\n") != std::string::npos);
  CHECK(status.find("Diagnostic-Code: x-missive; " + safe + "\r\n") != std::string::npos);
  CHECK(parts[1].find("<bob@b.test>: the next mail server answered: 550 no Bcc:") !=
        std::string::npos);
}

TEST_CASE("compose_bounce: long diagnostics are folded, no line beyond 998 octets") {
  auto details = sample_details();
  std::string words;
  for (int i = 0; i < 300; ++i) words += "word" + std::to_string(i) + " ";
  details.recipients[0].diagnostic = "550 " + words;
  details.recipients[1].diagnostic = std::string(3000, 'x');  // nowhere to fold
  details.recipients[1].remote_reply = true;
  auto bounce = missive::compose_bounce(details);
  std::size_t longest = 0;
  for (auto line : lines_of(bounce)) longest = std::max(longest, line.size());
  CHECK(longest <= 998);
  // Folded at spaces, each header line stays within 78 where words allow.
  CHECK(bounce.find("Diagnostic-Code: smtp; 550 word0 word1") != std::string::npos);
  for (auto line : lines_of(bounce))
    if (line.find("word") != std::string_view::npos) CHECK(line.size() <= 78);
  // A huge reply is cut, not repeated whole.
  details.recipients[1].diagnostic = std::string(100000, 'y');
  bounce = missive::compose_bounce(details);
  CHECK(bounce.size() < 20000);
  CHECK(bounce.find("yyy...") != std::string::npos);
}

TEST_CASE("compose_bounce: edge cases") {
  auto details = sample_details();
  SUBCASE("no header section in the original: an empty third part") {
    details.original_message = "";
    auto bounce = missive::compose_bounce(details);
    auto parts = split_parts(std::string_view(bounce).substr(bounce.find("\r\n\r\n") + 4),
                             details.boundary);
    REQUIRE(parts.size() == 5);
    CHECK(parts[3] ==
          "Content-Type: text/rfc822-headers\r\n"
          "Content-Description: Undelivered Message Headers\r\n"
          "\r\n");
  }
  SUBCASE("an original that is all headers, without a final CRLF") {
    details.original_message = "Subject: cut";
    auto bounce = missive::compose_bounce(details);
    CHECK(bounce.ends_with("\r\n\r\nSubject: cut\r\n--=_missive_ABC123--\r\n"));
  }
  SUBCASE("8-bit original headers are labelled 8bit, in the part and around it") {
    details.original_message = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n";
    auto bounce = missive::compose_bounce(details);
    CHECK(bounce.find("boundary=\"=_missive_ABC123\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n") !=
          std::string::npos);
    CHECK(bounce.find("Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: 8bit\r\n") !=
          std::string::npos);
    CHECK(bounce.find("Subject: caf\xc3\xa9\r\n") != std::string::npos);
  }
  SUBCASE("a malformed status becomes 5.0.0; an empty diagnostic is left out") {
    details.recipients[0].status = "5.1.1\r\nX-Evil: 1";
    details.recipients[0].diagnostic = "";
    details.recipients[1].status = "9.9.9";
    auto bounce = missive::compose_bounce(details);
    CHECK(bounce.find("Status: 5.0.0\r\nLast-Attempt-Date: Fri, 01 Mar 2024 12:00:05 +0000") !=
          std::string::npos);
    CHECK(bounce.find("Final-Recipient: rfc822; carol@c.test\r\nAction: failed\r\nStatus: 5.0.0\r\n") !=
          std::string::npos);
    CHECK(bounce.find("X-Evil") == std::string::npos);
    CHECK(bounce.find("<bob@b.test>: the next mail server answered: (no reason given)") !=
          std::string::npos);
  }
  SUBCASE("no queue id: no X-Missive-Queue-ID field") {
    details.queue_id = "";
    auto bounce = missive::compose_bounce(details);
    CHECK(bounce.find("X-Missive-Queue-ID") == std::string::npos);
    CHECK(bounce.find("Queue ID") == std::string::npos);
  }
  SUBCASE("an invalid boundary is refused") {
    for (std::string bad : {std::string(""), std::string(71, 'a'), std::string("a\"b"),
                            std::string("a\r\nb"), std::string("trailing ")}) {
      details.boundary = bad;
      CHECK_THROWS_AS(missive::compose_bounce(details), std::invalid_argument);
    }
  }
}

TEST_CASE("compose_bounce: DSN extension fields (RFC 3461 6.3, RFC 3464 2.2.1, 2.3.1)") {
  auto details = sample_details();
  details.envid = "QQ314159";
  details.recipients[0].original_recipient = "rfc822;Bob+tag@b.test";
  auto dsn = missive::compose_bounce(details);
  auto parts = split_parts(dsn.substr(dsn.find("\r\n\r\n") + 4), details.boundary);
  REQUIRE(parts.size() == 5);
  const auto& status = parts[2];
  // The envelope id comes first among the per-message fields.
  CHECK(status.find("\r\n\r\nOriginal-Envelope-Id: QQ314159\r\nReporting-MTA: dns; mx.a.test\r\n") !=
        std::string::npos);
  CHECK(status.find("\r\nOriginal-Recipient: rfc822;Bob+tag@b.test\r\n"
                    "Final-Recipient: rfc822; bob@b.test\r\nAction: failed\r\n") !=
        std::string::npos);
  // Carol gave no ORCPT: no Original-Recipient for her.
  CHECK(status.find("Original-Recipient: rfc822;carol") == std::string::npos);
}

TEST_CASE("compose_bounce: RET=FULL returns the whole message as message/rfc822") {
  auto details = sample_details();
  details.return_full = true;
  auto dsn = missive::compose_bounce(details);
  auto parts = split_parts(dsn.substr(dsn.find("\r\n\r\n") + 4), details.boundary);
  REQUIRE(parts.size() == 5);
  CHECK(parts[3].starts_with("Content-Type: message/rfc822\r\n"));
  CHECK(parts[3].find("secret body line") != std::string::npos);
  // Without it, headers only.
  auto headers_only = missive::compose_bounce(sample_details());
  CHECK(headers_only.find("secret body line") == std::string::npos);
  CHECK(headers_only.find("Content-Type: text/rfc822-headers") != std::string::npos);
}

TEST_CASE("compose_bounce: success, relayed and delayed reports") {
  using missive::dsn_action;
  struct kind_case {
    dsn_action action;
    std::string_view field;
    std::string_view subject;
  };
  const kind_case kinds[] = {
      {dsn_action::delivered, "Action: delivered", "Subject: Successful Mail Delivery Report"},
      {dsn_action::relayed, "Action: relayed", "Subject: Successful Mail Delivery Report"},
      {dsn_action::delayed, "Action: delayed", "Subject: Delayed Mail (still being retried)"},
  };
  for (const auto& k : kinds) {
    auto details = sample_details();
    details.return_full = true;  // RET=FULL is for failures only (RFC 3461 4.3)
    details.recipients.resize(1);
    details.recipients[0].action = k.action;
    details.recipients[0].status = k.action == dsn_action::delayed ? "4.4.1" : "2.0.0";
    auto dsn = missive::compose_bounce(details);
    INFO("action: ", k.field);
    CHECK(dsn.find(k.field) != std::string::npos);
    CHECK(dsn.find(k.subject) != std::string::npos);
    CHECK(dsn.find("Action: failed") == std::string::npos);
    CHECK(dsn.find("secret body line") == std::string::npos);
    CHECK(dsn.find("Content-Type: text/rfc822-headers") != std::string::npos);
  }
}
