// What the relay needs to know of an RFC 5322 header section.
#include "message_headers.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>

#include "ascii.hpp"

namespace missive {
namespace {

constexpr auto npos = std::string_view::npos;

// The name of the header field on `line`, or nullopt when the line is not "name:...".
// RFC 5322 2.2: field-name = 1*ftext, ftext = %d33-57 / %d59-126.
bool is_field_name(std::string_view name) {
  auto ftext = [](unsigned char c) { return c >= 33 && c <= 126 && c != ':'; };
  return !name.empty() && std::all_of(name.begin(), name.end(), ftext);
}

std::optional<std::string_view> field_name(std::string_view line) {
  auto colon = line.find(':');
  if (colon == npos) return std::nullopt;
  auto name = line.substr(0, colon);
  if (!is_field_name(name)) return std::nullopt;
  return name;
}

// Trims spaces, tabs and a line ending at both ends.
std::string_view trim_blanks(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

header_summary scan_headers(std::string_view message) {
  header_summary summary;
  auto headers = header_section(message);
  bool first = true;
  while (!headers.empty()) {
    auto end = headers.find("\r\n");
    auto line = headers.substr(0, end);
    headers.remove_prefix(end == npos ? headers.size() : end + 2);
    if (line.empty()) break;  // the empty line that ends the section
    // RFC 5322 2.2.3: a line starting with SP or HTAB continues the previous field.
    auto name = line.front() == ' ' || line.front() == '\t' ? std::nullopt : field_name(line);
    if (first) summary.starts_with_header = name.has_value();
    first = false;
    if (!name) continue;
    summary.has_message_id |= iequals(*name, "message-id");
    summary.has_date |= iequals(*name, "date");
    summary.received_count += iequals(*name, "received");
    summary.has_return_path |= iequals(*name, "return-path");
    if (iequals(*name, "delivered-to")) {
      summary.delivered_to.emplace_back(trim_blanks(line.substr(name->size() + 1)));
    }
  }
  return summary;
}

std::string remove_header_fields(std::string_view message, std::string_view name,
                                 std::vector<std::string>* removed) {
  std::string out;
  out.reserve(message.size());
  bool dropping = false;
  std::size_t pos = 0;
  while (pos < message.size()) {
    auto newline = message.find('\n', pos);
    std::size_t end = newline == npos ? message.size() : newline + 1;
    std::string_view line = message.substr(pos, end - pos);
    if (line == "\r\n" || line == "\n") break;  // the end of the header section
    pos = end;
    // RFC 5322 2.2.3: a line starting with SP or HTAB continues the previous field.
    if (line.front() == ' ' || line.front() == '\t') {
      if (!dropping) out += line;
      else if (removed) removed->back() += line;
      continue;
    }
    // RFC 5322 4.5 (obs-optional): blanks may stand between the name and its colon.
    auto colon = line.find(':');
    std::string_view field = colon == npos ? std::string_view() : line.substr(0, colon);
    while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
    dropping = is_field_name(field) && iequals(field, name);
    if (!dropping) out += line;
    else if (removed) removed->emplace_back(line.substr(colon + 1));
  }
  out += message.substr(pos);
  return out;
}

std::string format_rfc5322_date(std::chrono::system_clock::time_point when) {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  // Every message received in the same second has the same date: each thread keeps it.
  thread_local std::time_t formatted_second = -1;
  thread_local char text[64];
  if (seconds != formatted_second) {
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[utc.tm_wday],
                  utc.tm_mday, months[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
                  utc.tm_sec);
    formatted_second = seconds;
  }
  return text;
}

std::string_view header_section(std::string_view message) {
  if (message.starts_with("\r\n")) return message.substr(0, 2);
  auto end = message.find("\r\n\r\n");
  return end == npos ? message : message.substr(0, end + 4);
}

std::string_view first_body_lines(std::string_view message, std::size_t lines) {
  auto body = message.substr(header_section(message).size());
  std::size_t end = 0;
  for (std::size_t i = 0; i < lines && end < body.size(); ++i) {
    auto crlf = body.find("\r\n", end);
    end = crlf == npos ? body.size() : crlf + 2;
  }
  return body.substr(0, end);
}

}  // namespace missive
