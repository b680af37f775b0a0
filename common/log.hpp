// Logging: one line per event on stderr, "time level subject: key=value ...".
#pragma once

#include <fmt/format.h>

#include <functional>
#include <iterator>
#include <string_view>

namespace missive::log {

// How much is logged.
enum class level { debug, info, warning, error };

// Sets the lowest level that is written (info by default).
void set_level(level lowest);

// Whether lines of this level are written.
bool enabled(level lvl);

// Writes one line; `subject` is the queue id, session id or component the event is about.
void write(level lvl, std::string_view subject, std::string_view message);

// Formats (into a stack buffer, unless the line is long) and writes one line.
template <typename... Args>
void format_and_write(level lvl, std::string_view subject, fmt::format_string<Args...> format,
                      Args&&... args) {
  if (!enabled(lvl)) return;
  fmt::memory_buffer text;
  fmt::format_to(std::back_inserter(text), format, std::forward<Args>(args)...);
  write(lvl, subject, std::string_view(text.data(), text.size()));
}

// Writes out the lines held back for a deferred flush (see deferred_flush).
void flush();

// While one exists, info and debug lines are held in memory and written together: the
// first held line calls `schedule`, which must arrange for flush() to run soon (an event
// loop arms a timer, so the lines of many sessions go out in one write).
// Warnings and errors are written at once, after what is held. Destroying it flushes.
class deferred_flush {
 public:
  explicit deferred_flush(std::function<void()> schedule);
  deferred_flush(const deferred_flush&) = delete;
  deferred_flush& operator=(const deferred_flush&) = delete;
  ~deferred_flush();
};

// Formats and writes one info line.
template <typename... Args>
void info(std::string_view subject, fmt::format_string<Args...> format, Args&&... args) {
  format_and_write(level::info, subject, format, std::forward<Args>(args)...);
}

// Formats and writes one warning line.
template <typename... Args>
void warning(std::string_view subject, fmt::format_string<Args...> format, Args&&... args) {
  format_and_write(level::warning, subject, format, std::forward<Args>(args)...);
}

// Formats and writes one error line.
template <typename... Args>
void error(std::string_view subject, fmt::format_string<Args...> format, Args&&... args) {
  format_and_write(level::error, subject, format, std::forward<Args>(args)...);
}

// Formats and writes one debug line.
template <typename... Args>
void debug(std::string_view subject, fmt::format_string<Args...> format, Args&&... args) {
  format_and_write(level::debug, subject, format, std::forward<Args>(args)...);
}

}  // namespace missive::log
