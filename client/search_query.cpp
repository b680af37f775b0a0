// The search query language: see search_query.hpp.
#include "search_query.hpp"

#include <array>
#include <utility>

#include "ascii.hpp"

namespace missive::client {

namespace {

// A field prefix of the query language and its column in message_search (003_search.sql).
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> field_prefixes{{
    {"from:", "sender"},
    {"to:", "recipients"},
    {"subject:", "subject"},
    {"body:", "body"},
}};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A word as an FTS5 string (its double quotes doubled), with its trailing * kept outside.
std::string quoted_word(std::string_view word) {
  bool prefix = word.size() > 1 && word.back() == '*';
  if (prefix) word.remove_suffix(1);
  std::string out = "\"";
  for (char c : word) {
    out += c;
    if (c == '"') out += '"';
  }
  out += '"';
  if (prefix) out += '*';
  return out;
}

// The quoted phrase starting at `pos` (a '"'), up to its closing quote, as written; all the
// rest when it is not closed (FTS5 then says "unterminated string").
std::string_view phrase_at(std::string_view query, std::size_t pos) {
  std::size_t end = pos + 1;
  while (end < query.size()) {
    if (query[end] == '"') {
      if (end + 1 < query.size() && query[end + 1] == '"') {
        end += 2;  // "" inside a phrase is a quote
        continue;
      }
      ++end;
      if (end < query.size() && query[end] == '*') ++end;
      return query.substr(pos, end - pos);
    }
    ++end;
  }
  return query.substr(pos);
}

}  // namespace

std::string fts5_match_expression(std::string_view query) {
  std::string out;
  std::size_t pos = 0;
  auto append = [&](std::string_view piece) {
    if (!out.empty() && out.back() != '(' && piece != ")") out += ' ';
    out += piece;
  };
  while (pos < query.size()) {
    if (is_space(query[pos])) {
      ++pos;
      continue;
    }
    const char c = query[pos];
    if (c == '(' || c == ')') {
      append(std::string_view(&query[pos], 1));
      ++pos;
      continue;
    }
    if (c == '"') {
      auto phrase = phrase_at(query, pos);
      append(phrase);
      pos += phrase.size();
      continue;
    }
    std::size_t end = pos;
    while (end < query.size() && !is_space(query[end]) && query[end] != '(' && query[end] != ')' &&
           query[end] != '"') {
      ++end;
    }
    std::string_view word = query.substr(pos, end - pos);
    pos = end;
    if (word == "AND" || word == "OR" || word == "NOT") {
      append(word);
      continue;
    }
    bool narrowed = false;
    for (const auto& [prefix, column] : field_prefixes) {
      if (word.size() < prefix.size() || !iequals(word.substr(0, prefix.size()), prefix)) continue;
      std::string filter = std::string(column) + " :";
      std::string_view rest = word.substr(prefix.size());
      if (rest.empty() && pos < query.size() && query[pos] == '"') {
        auto phrase = phrase_at(query, pos);
        pos += phrase.size();
        append(filter + " " + std::string(phrase));
      } else if (rest.empty()) {
        append(filter);  // nothing to narrow: FTS5 reports it
      } else {
        append(filter + " " + quoted_word(rest));
      }
      narrowed = true;
      break;
    }
    if (!narrowed) append(quoted_word(word));
  }
  return out;
}

}  // namespace missive::client
