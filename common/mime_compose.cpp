// Message composition: see mime_compose.hpp.
#include "mime_compose.hpp"

#include <array>
#include <utility>

#include "ascii.hpp"
#include "message_headers.hpp"
#include "mime_encoding.hpp"

namespace missive::mime {

namespace {

// Trims ASCII white space at both ends.
std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// "Name <a@b>" or "a@b", as an RFC 5322 mailbox.
std::string format_mailbox(const mailbox& box) {
  if (box.display_name.empty()) return box.address;
  return encode_phrase(box.display_name) + " <" + box.address + ">";
}

// An address field "Name: a, b, c\r\n", folded between addresses under 78 columns.
std::string address_field(std::string_view name, const std::vector<mailbox>& boxes) {
  std::string out = std::string(name) + ":";
  std::size_t column = out.size();
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    std::string item = format_mailbox(boxes[i]);
    if (i + 1 < boxes.size()) item += ",";
    if (i > 0 && column + 1 + item.size() > max_header_line) {
      out += "\r\n";
      column = 0;
    }
    out += ' ';
    out += item;
    column += 1 + item.size();
  }
  out += "\r\n";
  return out;
}

// The text part's Content-Type and Content-Transfer-Encoding fields and its encoded body.
std::pair<std::string, std::string> text_part(std::string_view body) {
  std::string fields = "Content-Type: text/plain; charset=utf-8\r\n";
  if (is_7bit_safe(body)) {
    fields += "Content-Transfer-Encoding: 7bit\r\n";
    std::string text = to_crlf(body);
    if (!text.empty() && !text.ends_with("\r\n")) text += "\r\n";
    return {fields, text};
  }
  fields += "Content-Transfer-Encoding: quoted-printable\r\n";
  std::string text = quoted_printable_encode(body);
  if (!text.empty() && !text.ends_with("\r\n")) text += "\r\n";
  return {fields, text};
}

// A boundary that occurs in none of `parts` (RFC 2046 5.1.1).
std::string unique_boundary(std::string boundary, const std::vector<std::string>& parts) {
  for (int attempt = 0;; ++attempt) {
    bool clash = false;
    for (const auto& part : parts) clash = clash || part.find(boundary) != std::string::npos;
    if (!clash) return boundary;
    boundary += std::to_string(attempt);
  }
}

}  // namespace

mailbox split_mailbox(std::string_view text) {
  text = trim(text);
  auto open = text.rfind('<');
  if (open != std::string_view::npos && text.back() == '>') {
    std::string_view name = trim(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    return {std::string(name), std::string(trim(text.substr(open + 1, text.size() - open - 2)))};
  }
  return {"", std::string(text)};
}

std::string compose_message(const outgoing_message& message) {
  std::string head;
  head += "Date: " + format_rfc5322_date(message.date) + "\r\n";
  head += "Message-ID: <" + message.message_id + ">\r\n";
  head += address_field("From", {message.from});
  if (!message.to.empty()) head += address_field("To", message.to);
  if (!message.cc.empty()) head += address_field("Cc", message.cc);
  if (!message.subject.empty()) head += encode_unstructured_field("Subject", message.subject);
  for (const auto& field : message.extra_fields) head += field.name + ": " + field.value + "\r\n";
  head += "MIME-Version: 1.0\r\n";

  auto [text_fields, text_body] = text_part(message.body);
  if (message.attachments.empty()) return head + text_fields + "\r\n" + text_body;

  // RFC 2046 5.1.3: multipart/mixed, the text first, then each file in base64.
  std::vector<std::string> parts;
  parts.push_back(text_fields + "\r\n" + text_body);
  for (const auto& file : message.attachments) {
    if (file.content_type == "message/rfc822") {
      // RFC 2046 5.2.1: no encoding but 7bit, 8bit or binary; the message goes as it is.
      std::string inner = to_crlf(file.data);
      if (!inner.ends_with("\r\n")) inner += "\r\n";
      std::string part = "Content-Type: message/rfc822\r\nContent-Disposition: attachment";
      if (!file.filename.empty()) part += ";\r\n " + encode_parameter("filename", file.filename);
      part += "\r\nContent-Transfer-Encoding: ";
      part += is_ascii(inner) ? "7bit" : "8bit";
      part += "\r\n\r\n" + inner;
      parts.push_back(std::move(part));
      continue;
    }
    std::string part = "Content-Type: " + file.content_type + ";\r\n " +
                       encode_parameter("name", file.filename) + "\r\n";
    part += "Content-Disposition: attachment;\r\n " + encode_parameter("filename", file.filename) +
            "\r\n";
    part += "Content-Transfer-Encoding: base64\r\n\r\n";
    part += base64_encode_lines(file.data);
    parts.push_back(std::move(part));
  }
  std::string boundary = unique_boundary(message.boundary, parts);
  std::string out = head + "Content-Type: multipart/mixed;\r\n boundary=\"" + boundary + "\"\r\n\r\n";
  out += "This is a message in MIME format.\r\n";
  for (const auto& part : parts) {
    out += "\r\n--" + boundary + "\r\n";
    out += part;
  }
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

std::string guess_content_type(std::string_view filename) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> table{{
      {"txt", "text/plain"},
      {"html", "text/html"},
      {"htm", "text/html"},
      {"pdf", "application/pdf"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"zip", "application/zip"},
      {"json", "application/json"},
      {"csv", "text/csv"},
  }};
  auto dot = filename.rfind('.');
  if (dot != std::string_view::npos && filename.find('/', dot) == std::string_view::npos) {
    std::string extension = lowercase_ascii(filename.substr(dot + 1));
    for (const auto& [ext, type] : table) {
      if (extension == ext) return std::string(type);
    }
  }
  return "application/octet-stream";
}

}  // namespace missive::mime
