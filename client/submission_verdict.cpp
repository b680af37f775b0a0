// The verdict on a submitted message: see submission_verdict.hpp.
#include "submission_verdict.hpp"

#include <fmt/format.h>

#include "exit_codes.hpp"

namespace missive::client {

namespace {

bool temporary(const smtp_reply& reply) { return reply.code / 100 == 4; }

// "Ok: queued as ID" -> "ID"; the whole text when it names none.
std::string queue_id_of(const smtp_reply& reply) {
  auto pos = reply.text.find("queued as ");
  if (pos == std::string::npos) return reply.text;
  std::string id = reply.text.substr(pos + 10);
  return id.substr(0, id.find_first_of(" \r\n"));
}

// A refusal of the message itself (sender, DATA, or the content after it): 4xx is "try
// later", 5xx "not this message".
submission_verdict refused_message(const smtp_reply& reply, const std::string& what) {
  submission_verdict verdict;
  verdict.status = temporary(reply) ? exit_code::temp_failure : exit_code::data_error;
  verdict.failure = temporary(reply)
                        ? fmt::format("nothing was sent: the mail server cannot take {} now: {}; "
                                      "try again later", what, quote_reply(reply))
                        : fmt::format("nothing was sent: the mail server refused {}: {}", what,
                                      quote_reply(reply));
  return verdict;
}

}  // namespace

std::string quote_reply(const smtp_reply& reply) {
  std::string text = reply.text;
  for (auto& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return reply.enhanced.empty() ? fmt::format("{} {}", reply.code, text)
                                : fmt::format("{} {} {}", reply.code, reply.enhanced, text);
}

submission_verdict judge_submission(const std::string& sender,
                                    const std::vector<std::string>& recipients,
                                    const smtp_transaction_result& result) {
  if (result.mail.code == 530) {
    // RFC 3207 4 and RFC 4954 6: STARTTLS or AUTH must come first. Not this message's
    // fault: no message gets through until the configuration changes.
    submission_verdict verdict;
    verdict.status = exit_code::unavailable;
    verdict.failure = fmt::format("nothing was sent: the mail server wants TLS or a login first: {}",
                                  quote_reply(result.mail));
    return verdict;
  }
  if (result.mail.code / 100 != 2) {
    return refused_message(result.mail, fmt::format("the message from <{}>", sender));
  }
  submission_verdict verdict;
  std::size_t permanent = 0;
  for (std::size_t i = 0; i < result.recipients.size() && i < recipients.size(); ++i) {
    const smtp_reply& reply = result.recipients[i];
    if (reply.code / 100 == 2) continue;
    verdict.refused.push_back(fmt::format("{}: {}", recipients[i], quote_reply(reply)));
    if (!temporary(reply)) ++permanent;
  }
  if (!verdict.refused.empty()) {
    // A permanent refusal decides: trying again later would meet it again.
    verdict.status = permanent > 0 ? exit_code::no_user : exit_code::temp_failure;
    verdict.failure =
        permanent > 0
            ? fmt::format("nothing was sent: the mail server refused {} of {} recipients",
                          verdict.refused.size(), recipients.size())
            : fmt::format("nothing was sent: the mail server cannot take {} of {} recipients "
                          "now; try again later",
                          verdict.refused.size(), recipients.size());
    return verdict;
  }
  if (result.data_command && result.data_command->code != 354) {
    return refused_message(*result.data_command, "the message");
  }
  if (!result.data_end) {
    // Every reply was positive, yet the content was not sent: the server answered fewer
    // RCPTs than were given (smtp_client never does that), so nothing is known to be sent.
    verdict.status = exit_code::temp_failure;
    verdict.failure = "nothing was sent: the mail server ended the transaction early; try again later";
    return verdict;
  }
  if (result.data_end->code / 100 != 2) return refused_message(*result.data_end, "the message");
  verdict.queue_id = queue_id_of(*result.data_end);
  return verdict;
}

}  // namespace missive::client
