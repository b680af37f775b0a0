// Unit tests for the client's verdict on a submitted message: all or nothing, and the
// sysexits status each refusal maps to (65 message, 67 recipient, 75 try later).
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "exit_codes.hpp"
#include "submission_verdict.hpp"

namespace {

using missive::smtp_reply;
using missive::smtp_transaction_result;
using missive::client::judge_submission;

const smtp_reply mail_ok{250, "2.1.0", "Ok"};
const smtp_reply rcpt_ok{250, "2.1.5", "Ok"};
const smtp_reply unknown{550, "5.1.1", "<nobody@localhost>: Recipient address rejected: User unknown"};
const smtp_reply too_many{452, "4.5.3", "Error: too many recipients"};
const smtp_reply go_ahead{354, "", "End data with <CR><LF>.<CR><LF>"};
const smtp_reply queued{250, "2.0.0", "Ok: queued as ABC123"};

// A transaction: MAIL's reply, the RCPT replies, DATA's and the final one when sent.
smtp_transaction_result transaction(smtp_reply mail, std::vector<smtp_reply> rcpts,
                                    std::optional<smtp_reply> data = std::nullopt,
                                    std::optional<smtp_reply> end = std::nullopt) {
  smtp_transaction_result result;
  result.mail = std::move(mail);
  result.recipients = std::move(rcpts);
  result.data_command = std::move(data);
  result.data_end = std::move(end);
  return result;
}

}  // namespace

TEST_CASE("judge_submission: status, refused recipients and the sentence") {
  namespace exit_code = missive::exit_code;
  const std::string sender = "alice@localhost";
  const std::vector<std::string> two = {"bob@localhost", "nobody@localhost"};
  struct verdict_case {
    const char* name;
    smtp_transaction_result result;
    int status;
    std::vector<std::string> refused;
    std::string failure;  // a fragment of the sentence ("" when it must be empty)
  };
  const std::vector<verdict_case> cases = {
      {"every recipient accepted, message queued",
       transaction(mail_ok, {rcpt_ok, rcpt_ok}, go_ahead, queued), exit_code::ok, {}, ""},
      {"one recipient unknown: nothing sent, 67",
       transaction(mail_ok, {rcpt_ok, unknown}), exit_code::no_user,
       {"nobody@localhost: 550 5.1.1 <nobody@localhost>: Recipient address rejected: User unknown"},
       "nothing was sent: the mail server refused 1 of 2 recipients"},
      {"one recipient deferred: nothing sent, 75",
       transaction(mail_ok, {rcpt_ok, too_many}), exit_code::temp_failure,
       {"nobody@localhost: 452 4.5.3 Error: too many recipients"},
       "cannot take 1 of 2 recipients now; try again later"},
      {"a permanent refusal outweighs a temporary one",
       transaction(mail_ok, {too_many, unknown}), exit_code::no_user,
       {"bob@localhost: 452 4.5.3 Error: too many recipients",
        "nobody@localhost: 550 5.1.1 <nobody@localhost>: Recipient address rejected: User unknown"},
       "refused 2 of 2 recipients"},
      {"sender refused: 65",
       transaction({553, "5.7.1", "Sender address rejected: not owned by user"}, {}),
       exit_code::data_error, {},
       "refused the message from <alice@localhost>: 553 5.7.1 Sender address rejected"},
      {"too big for SIZE (the client's own 552 at MAIL): 65",
       transaction({552, "5.3.4", "message size 9 exceeds the next hop's limit of 8 octets"}, {}),
       exit_code::data_error, {}, "552 5.3.4 message size 9"},
      {"TLS or AUTH required first (530 at MAIL): 69, as TLS that cannot be had",
       transaction({530, "5.7.0", "Must issue a STARTTLS command first"}, {}),
       exit_code::unavailable, {}, "wants TLS or a login first: 530 5.7.0 Must issue"},
      {"sender deferred: 75",
       transaction({452, "4.3.1", "Error: insufficient system storage"}, {}),
       exit_code::temp_failure, {}, "452 4.3.1 Error: insufficient system storage; try again later"},
      {"DATA refused: 65",
       transaction(mail_ok, {rcpt_ok, rcpt_ok}, smtp_reply{554, "5.5.1", "no valid recipients"}),
       exit_code::data_error, {}, "refused the message: 554 5.5.1 no valid recipients"},
      {"content refused after DATA: 65",
       transaction(mail_ok, {rcpt_ok, rcpt_ok}, go_ahead,
                   smtp_reply{554, "5.6.0", "Error: message\nnot accepted"}),
       exit_code::data_error, {}, "554 5.6.0 Error: message not accepted"},
      {"content deferred after DATA: 75",
       transaction(mail_ok, {rcpt_ok, rcpt_ok}, go_ahead, smtp_reply{451, "4.3.0", "try later"}),
       exit_code::temp_failure, {}, "451 4.3.0 try later; try again later"},
      {"replies end without the content sent: 75, never 0",
       transaction(mail_ok, {rcpt_ok, rcpt_ok}), exit_code::temp_failure, {}, "ended the transaction early"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto verdict = judge_submission(sender, two, c.result);
    CHECK(verdict.status == c.status);
    CHECK(verdict.refused == c.refused);
    if (c.failure.empty()) {
      CHECK(verdict.failure.empty());
      CHECK(verdict.queue_id == "ABC123");
    } else {
      CHECK(verdict.failure.find(c.failure) != std::string::npos);
      CHECK(verdict.failure.find('\n') == std::string::npos);
      CHECK(verdict.queue_id.empty());
    }
  }
}

TEST_CASE("quote_reply: one line, code and enhanced code first") {
  using missive::client::quote_reply;
  CHECK(quote_reply({550, "5.1.1", "User unknown"}) == "550 5.1.1 User unknown");
  CHECK(quote_reply({421, "", "closing\nnow"}) == "421 closing now");
}
