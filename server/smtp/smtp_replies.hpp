// Every reply the SMTP server gives, in one table: the code (RFC 5321 4.2), the enhanced
// status code (RFC 3463, RFC 3463's sections and the RFC that asks for each are cited),
// and the text. Replies that name something (an address, the host) are functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mail_address.hpp"
#include "smtp_reply.hpp"

namespace missive::replies {

// RFC 5321 4.2: the greeting and the EHLO/HELO replies carry no enhanced code (RFC 2034 3).
smtp_reply greeting(std::string_view hostname);
inline const smtp_reply ok_sender{250, "2.1.0", "Ok"};
inline const smtp_reply ok_recipient{250, "2.1.5", "Ok"};
inline const smtp_reply ok{250, "2.0.0", "Ok"};
smtp_reply queued(std::string_view queue_id);
inline const smtp_reply bye{221, "2.0.0", "Bye"};
inline const smtp_reply start_data{354, "", "End data with <CR><LF>.<CR><LF>"};
// RFC 5321 3.5.3: 252 when the server will not confirm or deny an address.
inline const smtp_reply cannot_verify{252, "2.5.0",
                                      "Cannot VRFY user, but will accept message and attempt delivery"};
inline const smtp_reply help{214, "2.0.0",
                             "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\nSee RFC 5321"};

// Protocol errors (RFC 5321 4.2.4, RFC 3463 3.6: X.5.x).
inline const smtp_reply bad_sequence_helo{503, "5.5.1", "Error: send HELO/EHLO first"};
inline const smtp_reply bad_sequence_mail{503, "5.5.1", "Error: need MAIL command"};
inline const smtp_reply bad_sequence_rcpt{503, "5.5.1", "Error: need RCPT command"};
inline const smtp_reply nested_mail{503, "5.5.1", "Error: nested MAIL command"};
// RFC 3030 2: DATA and BDAT cannot be mixed in one transaction.
inline const smtp_reply data_after_bdat{503, "5.5.1", "Error: DATA after BDAT; send RSET"};
inline const smtp_reply bdat_syntax{501, "5.5.4", "Syntax: BDAT chunk-size [LAST]"};
inline const smtp_reply bdat_needs_ehlo{503, "5.5.1", "Error: BDAT needs EHLO"};
// RFC 3030 2: the reply to a chunk that is not the last.
smtp_reply chunk_received(std::uint64_t octets);
inline const smtp_reply unknown_command{500, "5.5.2", "Error: command not recognized"};
inline const smtp_reply line_too_long{500, "5.5.2", "Error: line too long"};
inline const smtp_reply bad_characters{500, "5.5.2", "Error: invalid characters in command"};
inline const smtp_reply not_implemented{502, "5.5.1", "Error: command not implemented"};
inline const smtp_reply unknown_parameter{555, "5.5.4", "Error: unsupported parameter"};
inline const smtp_reply talked_first{554, "5.5.0", "Error: talked before the greeting"};
inline const smtp_reply http_request{502, "5.5.1", "Error: this is an SMTP server, not HTTP"};
// "Syntax: USAGE" (501 5.5.4).
smtp_reply syntax(std::string_view usage);
// An address the parser refused; `enhanced` is 5.1.7 for senders, 5.1.3 for recipients
// (RFC 3463 3.2); a non-ASCII one without SMTPUTF8 is 553 5.6.7 (RFC 6531 3.5).
smtp_reply bad_address(address_error error, std::string_view enhanced);

// The message (RFC 5321 4.5.3.1.10, RFC 1870, RFC 3463 3.4 X.3.x and 3.5 X.4.x).
inline const smtp_reply too_big{552, "5.3.4", "Error: message size exceeds fixed limit"};
inline const smtp_reply too_many_recipients{452, "4.5.3", "Error: too many recipients"};
// BDAT data without the CRLF lines 7BIT and 8BITMIME bodies are made of (RFC 3030 3).
inline const smtp_reply bdat_not_text{554, "5.6.0",
                                      "Error: bare CR, bare LF, NUL or over-long line in BDAT data"};
inline const smtp_reply smuggling{554, "5.6.0",
                                  "Error: bare CR, bare LF or NUL in message data (RFC 5321 2.3.8)"};
inline const smtp_reply too_many_hops{554, "5.4.6", "Error: too many Received: headers, mail loop"};
// RFC 9228 4: a Delivered-To naming one of the message's mailboxes.
smtp_reply forwarding_loop(std::string_view mailbox);

// Storage (RFC 3463 3.4: X.3.0 other, X.3.1 mail system full).
inline const smtp_reply storage_failed{451, "4.3.0", "Error: could not store message, try again later"};
inline const smtp_reply storage_full_at_mail{452, "4.3.1", "Error: insufficient system storage"};
inline const smtp_reply storage_full_at_data{451, "4.3.1",
                                             "Error: insufficient system storage, try again later"};
inline const smtp_reply lookup_failed{451, "4.3.0", "Error: temporary failure looking up the recipient"};

// Recipients and senders (RFC 3463 3.2: X.1.x; 3.8: X.7.x).
smtp_reply unknown_user(std::string_view address);                 // 550 5.1.1
smtp_reply relay_denied(std::string_view address);                 // 554 5.7.1
// An alias that cannot be expanded (RFC 3463 3.5: X.4.6 routing loop, X.5.3 too many
// recipients); the text says why, for the operator who reads the bounce.
smtp_reply alias_loop(std::string_view address, std::string_view path);      // 550 5.4.6
smtp_reply alias_too_deep(std::string_view address, std::size_t limit);      // 550 5.4.6
smtp_reply alias_too_wide(std::string_view address, std::size_t limit);      // 550 5.5.3
// An SRS address of ours that does not check out (forged, altered, expired).
smtp_reply bad_srs_address(std::string_view address, std::string_view problem);  // 550 5.1.1
smtp_reply sender_not_owned(std::string_view sender, std::string_view user);  // 553 5.7.1
inline const smtp_reply auth_required{530, "5.7.0", "Error: authentication required"};  // RFC 6409

// Sender authentication (RFC 7372: X.7.23 SPF failed, X.7.24 SPF error; RFC 7489 for DMARC).
smtp_reply spf_failed(std::string_view explanation);                // 550 5.7.23
inline const smtp_reply spf_unavailable{451, "4.7.24",
                                        "Error: SPF record could not be checked, try again later"};
smtp_reply dmarc_rejected(std::string_view from_domain);            // 550 5.7.1
inline const smtp_reply dmarc_unavailable{451, "4.7.1",
                                          "Error: DMARC policy could not be checked, try again later"};

// STARTTLS (RFC 3207) and AUTH (RFC 4954).
inline const smtp_reply ready_for_tls{220, "2.0.0", "Ready to start TLS"};
inline const smtp_reply tls_syntax{501, "5.5.4", "Syntax: STARTTLS"};
inline const smtp_reply tls_unavailable{502, "5.5.1", "Error: TLS is not available"};
inline const smtp_reply tls_active{503, "5.5.1", "Error: TLS is already active"};
inline const smtp_reply tls_in_transaction{503, "5.5.1",
                                           "Error: STARTTLS in the middle of a mail transaction"};
inline const smtp_reply auth_succeeded{235, "2.7.0", "Authentication successful"};
inline const smtp_reply auth_needs_ehlo{503, "5.5.1", "Error: send EHLO first"};
inline const smtp_reply auth_again{503, "5.5.1", "Error: already authenticated"};
inline const smtp_reply auth_in_transaction{503, "5.5.1", "Error: AUTH in a mail transaction"};
// RFC 4954 6: 538 when the mechanism needs an encrypted connection.
inline const smtp_reply auth_needs_tls{538, "5.7.11", "Error: encryption required for authentication"};
inline const smtp_reply auth_unknown_mechanism{504, "5.5.4", "Error: unrecognized authentication mechanism"};
inline const smtp_reply auth_cancelled{501, "5.0.0", "Error: authentication cancelled"};
inline const smtp_reply auth_malformed{501, "5.5.2", "Error: cannot decode the response"};
inline const smtp_reply auth_failed{535, "5.7.8", "Error: authentication credentials invalid"};
inline const smtp_reply auth_identity_differs{535, "5.7.8",
                                              "Error: authorization identity differs from the user"};
inline const smtp_reply auth_unavailable{454, "4.7.0", "Error: temporary authentication failure"};
inline const smtp_reply auth_banned{421, "4.7.0", "Error: too many failed logins, try later"};

// Closing the connection (RFC 5321 3.8: 421).
smtp_reply shutting_down(std::string_view hostname);     // 421 4.3.2
smtp_reply timed_out(std::string_view hostname);         // 421 4.4.2
smtp_reply too_many_errors(std::string_view hostname);   // 421 4.7.0

}  // namespace missive::replies
