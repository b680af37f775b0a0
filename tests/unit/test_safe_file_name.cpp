// Unit tests for the names attachments are saved under: never a path out of the folder,
// never a control character, never a hidden file or "..".
#include <doctest/doctest.h>

#include <string>

#include "safe_file_name.hpp"

using missive::client::numbered_file_name;
using missive::client::safe_file_name;

TEST_CASE("safe_file_name: only the last component, no control characters, no leading dots") {
  struct row {
    std::string suggested, expected;
  };
  const row rows[] = {
      {"report.pdf", "report.pdf"},
      {"../../x", "x"},
      {"/etc/x", "x"},
      {"..\\..\\windows\\x.bat", "x.bat"},
      {"a/b/", "attachment-3"},
      {"..", "attachment-3"},
      {".", "attachment-3"},
      {"", "attachment-3"},
      {".bashrc", "bashrc"},
      {"bell\x07name.txt", "bell_name.txt"},
      {"esc\x1b[31mred", "esc_[31mred"},
      {"new\nline", "new_line"},
      {"del\x7f", "del_"},
      {"c1\xc2\x9b" "31m", "c1_31m"},
      {"Résumé final.pdf", "Résumé final.pdf"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.suggested);
    CHECK(safe_file_name(r.suggested, 3) == r.expected);
  }
}

TEST_CASE("safe_file_name: long names are cut at a character boundary") {
  std::string long_name;
  for (int i = 0; i < 150; ++i) long_name += "é";  // 300 octets
  auto name = safe_file_name(long_name, 1);
  CHECK(name.size() == 200);
  CHECK(name == long_name.substr(0, 200));
  auto odd = safe_file_name("x" + long_name, 1);
  CHECK(odd.size() == 199);
}

TEST_CASE("numbered_file_name: the number before the extension") {
  CHECK(numbered_file_name("report.pdf", 1) == "report (1).pdf");
  CHECK(numbered_file_name("x", 2) == "x (2)");
  CHECK(numbered_file_name("archive.tar.gz", 1) == "archive.tar (1).gz");
}
