// Search documents: see search_text.hpp.
#include "search_text.hpp"

#include "mime_parse.hpp"

namespace missive::client {

search_document make_search_document(std::string_view raw) {
  auto view = mime::parse_message(raw);
  search_document doc;
  doc.sender = view.from;
  doc.recipients = view.to;
  if (!view.cc.empty()) doc.recipients += (doc.recipients.empty() ? "" : ", ") + view.cc;
  doc.subject = view.subject;
  doc.body = view.text;
  for (const auto& a : view.attachments) {
    if (!a.filename.empty()) doc.body += "\n" + a.filename;
  }
  return doc;
}

}  // namespace missive::client
