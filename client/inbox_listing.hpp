// The inbox as `inbox`, `search` and `inbox --threads` print it: a table for people, or one
// JSON document (README: "JSON output") for programs.
#pragma once

#include <string>
#include <vector>

#include "local_store.hpp"

namespace missive::client {

// The inbox table: ID, DATE, FROM, SUBJECT, SIZE, STATUS. `depth[i]`, when given, indents
// row i's subject (a reply within a thread).
std::string inbox_table(const std::vector<stored_summary>& rows, const std::vector<int>& depth = {});

// {"messages": [{"id", "date", "from", "subject", "size", "seen"}, ...]}.
std::string inbox_json(const std::vector<stored_summary>& rows);

// {"threads": [{"subject", "messages": [...]}, ...]}: threads newest first, each oldest first.
std::string threads_json(const std::vector<std::vector<stored_summary>>& threads);

// The threads as one table, a thread's later messages indented under its first.
std::string threads_table(const std::vector<std::vector<stored_summary>>& threads);

}  // namespace missive::client
