// What final delivery adds to a message: see delivery_headers.hpp.
#include "delivery_headers.hpp"

#include <fmt/format.h>

#include "ascii.hpp"
#include "message_headers.hpp"

namespace missive {

namespace {

constexpr std::string_view return_path = "Return-Path: <";
constexpr std::string_view delivered_to = ">\r\nDelivered-To: ";
constexpr std::string_view line_end = "\r\n";

}  // namespace

std::string delivery_headers(std::string_view sender, std::string_view recipient) {
  std::string fields;
  fields.reserve(delivery_headers_size(sender, recipient));
  fields.append(return_path).append(sender).append(delivered_to).append(recipient).append(line_end);
  return fields;
}

std::size_t delivery_headers_size(std::string_view sender, std::string_view recipient) {
  return return_path.size() + sender.size() + delivered_to.size() + recipient.size() +
         line_end.size();
}

std::optional<std::string> delivered_before(const header_summary& headers,
                                            const std::vector<std::string>& local_recipients) {
  for (const auto& recipient : local_recipients) {
    for (const auto& earlier : headers.delivered_to) {
      if (iequals(earlier, recipient)) return recipient;
    }
  }
  return std::nullopt;
}

}  // namespace missive
