// Message identifiers: see msg_id_list.hpp.
#include "msg_id_list.hpp"

namespace missive::client {

std::vector<std::string> parse_msg_ids(std::string_view value) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    auto open = value.find('<', pos);
    if (open == std::string_view::npos) break;
    auto close = value.find('>', open + 1);
    if (close == std::string_view::npos) break;
    std::string id;
    for (char c : value.substr(open + 1, close - open - 1)) {
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') id += c;  // folding inside
    }
    if (!id.empty()) out.push_back(std::move(id));
    pos = close + 1;
  }
  return out;
}

}  // namespace missive::client
