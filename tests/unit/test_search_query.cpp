// Unit tests for `missive search`'s query language and the FTS5 expressions it becomes.
#include <doctest/doctest.h>

#include <string>

#include "search_query.hpp"

using missive::client::fts5_match_expression;

TEST_CASE("fts5_match_expression: words become FTS5 strings, operators stay") {
  struct row {
    std::string query, expected;
  };
  const row rows[] = {
      {"budget", "\"budget\""},
      {"  two   words ", "\"two\" \"words\""},
      {"alice@example.test", "\"alice@example.test\""},
      {"re-send", "\"re-send\""},
      {"bud*", "\"bud\"*"},
      {"say\"what", "\"say\" \"what"},
      {"lunch OR dinner", "\"lunch\" OR \"dinner\""},
      {"lunch NOT dinner", "\"lunch\" NOT \"dinner\""},
      {"and or not", "\"and\" \"or\" \"not\""},
      {"(a OR b) c", "(\"a\" OR \"b\") \"c\""},
      {"\"quoted phrase\"", "\"quoted phrase\""},
      {"\"with \"\"quote\"\" inside\"", "\"with \"\"quote\"\" inside\""},
      {"Grüße", "\"Grüße\""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.query);
    CHECK(fts5_match_expression(r.query) == r.expected);
  }
}

TEST_CASE("fts5_match_expression: field prefixes narrow to one column") {
  CHECK(fts5_match_expression("from:bob") == "sender : \"bob\"");
  CHECK(fts5_match_expression("FROM:bob@b.test") == "sender : \"bob@b.test\"");
  CHECK(fts5_match_expression("to:carol") == "recipients : \"carol\"");
  CHECK(fts5_match_expression("subject:\"quarterly budget\" x") ==
        "subject : \"quarterly budget\" \"x\"");
  CHECK(fts5_match_expression("body:zeppelin") == "body : \"zeppelin\"");
  CHECK(fts5_match_expression("cc:x") == "\"cc:x\"");
}

TEST_CASE("fts5_match_expression: what cannot be made sense of is passed on for FTS5") {
  CHECK(fts5_match_expression("\"unbalanced") == "\"unbalanced");
  CHECK(fts5_match_expression("(a") == "(\"a\"");
  CHECK(fts5_match_expression("a AND") == "\"a\" AND");
  CHECK(fts5_match_expression("from:") == "sender :");
  CHECK(fts5_match_expression("") == "");
  CHECK(fts5_match_expression("   ") == "");
}
