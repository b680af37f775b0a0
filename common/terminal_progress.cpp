// A status line on a terminal: see terminal_progress.hpp.
#include "terminal_progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace missive {

namespace {

// Often enough to look alive, seldom enough not to flood a slow terminal.
constexpr auto redraw_every = std::chrono::milliseconds(100);

}  // namespace

terminal_progress::terminal_progress() : shown_(::isatty(STDERR_FILENO) == 1) {}

terminal_progress::~terminal_progress() {
  // "\r" then erase to the end of the line (ECMA-48 EL).
  if (drawn_) std::fputs("\r\x1b[K", stderr);
}

void terminal_progress::update(std::string_view what, std::int64_t done, std::int64_t total) {
  if (!shown_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && done != total && now - last_ < redraw_every) return;
  last_ = now;
  drawn_ = true;
  std::fputs(fmt::format("\r\x1b[K{}: {}/{}", what, done, total).c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace missive
