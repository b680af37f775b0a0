// What final delivery adds to a message: the header fields that record where it came from
// and whose mailbox it reached, and the forwarding loop those fields reveal later.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

struct header_summary;

// The fields put at the top of a message in a maildrop: Return-Path with the envelope sender
// (RFC 5321 4.4; "<>" for a bounce) and Delivered-To with the mailbox's address (RFC 9228).
std::string delivery_headers(std::string_view sender, std::string_view recipient);

// The octets delivery_headers() adds, without building them (for POP3 LIST and STAT).
std::size_t delivery_headers_size(std::string_view sender, std::string_view recipient);

// The first of `local_recipients` that a Delivered-To: field of the message already names:
// the message was delivered to that mailbox before and came back, a forwarding loop
// (RFC 9228 4).
std::optional<std::string> delivered_before(const header_summary& headers,
                                            const std::vector<std::string>& local_recipients);

}  // namespace missive
