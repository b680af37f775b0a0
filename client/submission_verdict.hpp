// What the server's replies to one submitted message mean for the user: the exit status
// (sysexits) and the sentences for stderr. Pure: no I/O.
//
// The message goes all or nothing (smtp_envelope::all_recipients): when any recipient is
// refused nothing was sent, so that fixing the address and sending again does not give the
// others a second copy. msmtp and Postfix's sendmail behave alike.
#pragma once

#include <string>
#include <vector>

#include "exit_codes.hpp"
#include "smtp_client.hpp"

namespace missive::client {

// The verdict on one transaction.
struct submission_verdict {
  int status = exit_code::ok;         // the exit status (exit_codes.hpp)
  std::string queue_id;               // the server's id for the message, when status is ok
  std::vector<std::string> refused;   // one "address: 550 5.1.1 text" per refused recipient
  std::string failure;                // one sentence, when status is not ok
  // The failure came before any transaction (no connection, or a refused greeting, EHLO,
  // STARTTLS or AUTH): every message sent now would meet it.
  bool server_wide = false;

  // Whether trying again later may succeed (4xx, or the server away): the outbox keeps it.
  bool temporary() const { return status == exit_code::temp_failure; }
};

// One reply on one line, as the user is shown it: "550 5.1.1 text".
std::string quote_reply(const smtp_reply& reply);

// Judges a transaction sent with all_recipients to `recipients` (in RCPT order). A sender
// refused with 5xx, or a message refused at or after DATA with 5xx: 65 (EX_DATAERR). Any
// recipient refused with 5xx: 67 (EX_NOUSER). Otherwise any 4xx: 75 (EX_TEMPFAIL). But 530
// at MAIL (TLS or AUTH required) is 69 (EX_UNAVAILABLE), like TLS that cannot be had.
submission_verdict judge_submission(const std::string& sender,
                                    const std::vector<std::string>& recipients,
                                    const smtp_transaction_result& result);

}  // namespace missive::client
