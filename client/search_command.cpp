// `missive search`: the local store's full-text index (003_search.sql), queried in the
// language of search_query.hpp.
#include <sqlite3.h>

#include <fmt/format.h>

#include <iostream>

#include "client_error.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "inbox_listing.hpp"
#include "local_store.hpp"
#include "search_query.hpp"

namespace missive::client {

int run_search(const client_config& config, const search_options& options) {
  local_store store(config.data_dir);
  const std::string match = fts5_match_expression(options.query);
  if (match.empty()) throw client_error(exit_code::usage, "search: the query is empty");
  if (!options.offline) poll_or_say_why(config, store);
  std::vector<stored_summary> rows;
  try {
    rows = store.search(match);
  } catch (const db::error& e) {
    if (e.code() != SQLITE_ERROR) throw;
    // FTS5's own words ("fts5: syntax error near ..."), without the statement around them.
    std::string why = e.what();
    if (auto pos = why.rfind("': "); pos != std::string::npos) why = why.substr(pos + 3);
    throw client_error(exit_code::usage,
                       fmt::format("search: cannot understand the query '{}' ({}); use words, "
                                   "\"quoted phrases\", AND, OR, NOT, parentheses, word* and "
                                   "the prefixes from:, to:, subject:",
                                   options.query, why));
  }
  std::cout << (options.json ? inbox_json(rows) : inbox_table(rows));
  return exit_code::ok;
}

}  // namespace missive::client
