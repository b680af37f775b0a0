// What the relay needs to know of an RFC 5322 header section, read without I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace missive {

// A summary of the header section at the start of a message (up to the first empty line,
// or the whole message when there is none).
struct header_summary {
  bool has_message_id = false;    // a Message-ID: field (names are case-insensitive)
  bool has_date = false;          // a Date: field
  std::size_t received_count = 0; // Received: fields, for loop detection (RFC 5321 6.3)
  bool has_return_path = false;   // a Return-Path: field, which only final delivery may add
  // The addresses of Delivered-To: fields (RFC 9228), blanks trimmed: where the message was
  // delivered before, for forwarding-loop detection.
  std::vector<std::string> delivered_to;
  // Whether the message starts with a header field ("name:" with printable ASCII name);
  // false for a message that starts with body text or an empty line.
  bool starts_with_header = false;
};

// Scans the header section of `message` (CRLF line endings; folded lines are continuation).
header_summary scan_headers(std::string_view message);

// Returns `message` without the header fields named `name` (any case) and their
// continuation lines; the body, and fields after the header section, are left alone. Lines
// may end in CRLF or LF. The unfolded values removed are appended to `removed` if given.
std::string remove_header_fields(std::string_view message, std::string_view name,
                                 std::vector<std::string>* removed = nullptr);

// Formats a time as an RFC 5322 3.3 date-time in UTC: "Sat, 21 Nov 2026 18:49:00 +0000".
std::string format_rfc5322_date(std::chrono::system_clock::time_point when);

// Returns the header section of `message`: everything up to and including the empty line
// that ends it (the whole message when there is none).
std::string_view header_section(std::string_view message);

// Returns at most the first `lines` lines of the body of `message` (after the header
// section), each with its CRLF, as POP3 TOP sends them (RFC 1939 7).
std::string_view first_body_lines(std::string_view message, std::size_t lines);

}  // namespace missive
