// Reply fields: see reply_headers.hpp.
#include "reply_headers.hpp"

#include "ascii.hpp"
#include "mime_encoding.hpp"
#include "msg_id_list.hpp"

namespace missive::client {

namespace {

std::vector<std::string> addresses(const std::vector<mime::header_field>& fields,
                                   std::string_view name) {
  auto value = mime::find_field(fields, name);
  return value ? mime::parse_address_list(*value) : std::vector<std::string>{};
}

bool contains(const std::vector<std::string>& list, std::string_view address) {
  for (const auto& item : list) {
    if (iequals(item, address)) return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `prefix` ("Re:") once before `subject`.
std::string prefixed(std::string_view subject, std::string_view prefix) {
  subject = trim(subject);
  if (istarts_with(subject, prefix)) return std::string(subject);
  return std::string(prefix) + " " + std::string(subject);
}

}  // namespace

reply_fields compose_reply_fields(const std::vector<mime::header_field>& fields,
                                  std::string_view self, bool all) {
  reply_fields out;
  auto add = [&](std::vector<std::string>& list, const std::string& address) {
    if (iequals(address, self) || contains(out.to, address) || contains(out.cc, address)) return;
    list.push_back(address);
  };
  auto reply_to = addresses(fields, "Reply-To");
  for (const auto& a : reply_to.empty() ? addresses(fields, "From") : reply_to) add(out.to, a);
  if (all) {
    for (const auto& a : addresses(fields, "To")) add(out.cc, a);
    for (const auto& a : addresses(fields, "Cc")) add(out.cc, a);
  }
  // Replying to one's own message: it goes back to its recipients, not to oneself.
  if (out.to.empty() && !out.cc.empty()) {
    out.to.push_back(out.cc.front());
    out.cc.erase(out.cc.begin());
  }
  if (out.to.empty()) {
    for (const auto& a : addresses(fields, "To")) {
      if (!contains(out.to, a)) out.to.push_back(a);
    }
  }
  auto subject = mime::find_field(fields, "Subject");
  out.subject = reply_subject(subject ? mime::decode_header_value(*subject) : "");

  // RFC 5322 3.6.4: In-Reply-To is the parent's msg-id; References is the parent's
  // References (or, when it has none, its In-Reply-To if that holds one id) then its msg-id.
  auto ids = [&](std::string_view name) {
    auto value = mime::find_field(fields, name);
    return value ? parse_msg_ids(*value) : std::vector<std::string>{};
  };
  auto own = ids("Message-ID");
  auto chain = ids("References");
  if (chain.empty()) {
    auto parent = ids("In-Reply-To");
    if (parent.size() == 1) chain = parent;
  }
  if (!own.empty()) {
    out.in_reply_to = "<" + own.front() + ">";
    chain.push_back(own.front());
  }
  for (const auto& id : chain) {
    // Folded between msg-ids (RFC 5322 2.2.3) so that a long chain keeps lines short.
    out.references += (out.references.empty() ? "" : "\r\n ") + ("<" + id + ">");
  }
  return out;
}

std::string reply_subject(std::string_view subject) { return prefixed(subject, "Re:"); }

std::string forward_subject(std::string_view subject) { return prefixed(subject, "Fwd:"); }

std::string quote_text(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto newline = text.find('\n', pos);
    std::size_t end = newline == std::string_view::npos ? text.size() : newline;
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out += line.empty() ? ">\n" : "> " + std::string(line) + "\n";
    if (newline == std::string_view::npos) break;
    pos = newline + 1;
  }
  return out;
}

}  // namespace missive::client
