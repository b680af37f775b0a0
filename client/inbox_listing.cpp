// Inbox listings: see inbox_listing.hpp.
#include "inbox_listing.hpp"

#include <fmt/format.h>

#include "json_text.hpp"
#include "terminal_text.hpp"

namespace missive::client {

namespace {

std::string message_json(const stored_summary& row) {
  return fmt::format(
      "{{\"id\": {}, \"date\": {}, \"from\": {}, \"subject\": {}, \"size\": {}, \"seen\": {}}}",
      row.id, row.date_unix, json_string(row.from), json_string(row.subject), row.size,
      row.seen ? "true" : "false");
}

std::string messages_json(const std::vector<stored_summary>& rows, std::string_view indent) {
  std::string out = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += fmt::format("{}\n{}{}", i == 0 ? "" : ",", indent, message_json(rows[i]));
  }
  out += rows.empty() ? "]" : fmt::format("\n{}]", indent.substr(2));
  return out;
}

}  // namespace

std::string inbox_table(const std::vector<stored_summary>& rows, const std::vector<int>& depth) {
  std::string out = fmt::format("{:>5}  {:<16}  {}  {}  {:>7}  {}\n", "ID", "DATE", fit("FROM", 28),
                                fit("SUBJECT", 40), "SIZE", "STATUS");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    std::string subject = printable(row.subject);
    if (i < depth.size() && depth[i] > 0) subject = "  " + subject;
    out += fmt::format("{:>5}  {:<16}  {}  {}  {:>7}  {}\n", row.id, format_local(row.date_unix),
                       fit(printable(row.from), 28), fit(subject, 40), format_size(row.size),
                       row.seen ? "seen" : "new");
  }
  return out;
}

std::string inbox_json(const std::vector<stored_summary>& rows) {
  return "{\"messages\": " + messages_json(rows, "  ") + "}\n";
}

std::string threads_json(const std::vector<std::vector<stored_summary>>& threads) {
  std::string out = "{\"threads\": [";
  for (std::size_t i = 0; i < threads.size(); ++i) {
    const auto& thread = threads[i];
    out += fmt::format("{}\n  {{\"subject\": {}, \"messages\": {}}}", i == 0 ? "" : ",",
                       json_string(thread.empty() ? "" : thread.front().subject),
                       messages_json(thread, "    "));
  }
  out += threads.empty() ? "]}\n" : "\n]}\n";
  return out;
}

std::string threads_table(const std::vector<std::vector<stored_summary>>& threads) {
  std::vector<stored_summary> rows;
  std::vector<int> depth;
  for (const auto& thread : threads) {
    for (std::size_t i = 0; i < thread.size(); ++i) {
      rows.push_back(thread[i]);
      depth.push_back(i == 0 ? 0 : 1);
    }
  }
  return inbox_table(rows, depth);
}

}  // namespace missive::client
