// Progress of long work on a terminal, and silence in a pipe: a line on stderr rewritten in
// place ("copying messages: 1500/4000"), only when stderr is a terminal, so that scripts
// and logs get the result alone. For `missived store copy` and `missive fetch`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace missive {

// One rewritten status line; does nothing unless stderr is a terminal.
class terminal_progress {
 public:
  terminal_progress();
  // Clears the line, so that what is printed next starts clean.
  ~terminal_progress();
  terminal_progress(const terminal_progress&) = delete;
  terminal_progress& operator=(const terminal_progress&) = delete;

  // Whether anything is shown (stderr is a terminal).
  bool shown() const { return shown_; }

  // "WHAT: DONE/TOTAL"; at most ten times a second, except when done == total.
  void update(std::string_view what, std::int64_t done, std::int64_t total);

 private:
  bool shown_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace missive
