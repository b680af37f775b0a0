// `missive search`'s query language, turned into an SQLite FTS5 MATCH expression without
// I/O. Words are matched as FTS5 strings (so "alice@example.test" or "re-send" need no
// quoting); "quoted phrases", AND, OR, NOT, parentheses and a trailing * (prefix) keep their
// FTS5 meaning; from:, to: and subject: (and body:) narrow the next word or phrase to one
// field. Whatever is left unbalanced is passed on, for FTS5 to report as a syntax error.
#pragma once

#include <string>
#include <string_view>

namespace missive::client {

// The MATCH expression for `query`.
std::string fts5_match_expression(std::string_view query);

}  // namespace missive::client
