// Logging: one line per event on stderr, "time level subject: key=value ...".
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string_view>

namespace missive::log {

// How much is logged.
enum class level { debug, info, warning, error };

// Sets the lowest level that is written (info by default).
void set_level(level lowest);

// Writes one line; `subject` is the queue id, session id or component the event is about.
void write(level lvl, std::string_view subject, std::string_view message);

// Writes out the lines held back for a deferred flush (see deferred_flush).
void flush();

// While one exists, info and debug lines are held in memory and written together: the
// first held line calls `schedule`, which must arrange for flush() to run soon (an event
// loop posts it, so every line logged in one turn of the loop goes out in one write).
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
  write(level::info, subject, fmt::format(format, std::forward<Args>(args)...));
}

// Formats and writes one warning line.
template <typename... Args>
void warning(std::string_view subject, fmt::format_string<Args...> format, Args&&... args) {
  write(level::warning, subject, fmt::format(format, std::forward<Args>(args)...));
}

// Formats and writes one error line.
template <typename... Args>
void error(std::string_view subject, fmt::format_string<Args...> format, Args&&... args) {
  write(level::error, subject, fmt::format(format, std::forward<Args>(args)...));
}

// Formats and writes one debug line.
template <typename... Args>
void debug(std::string_view subject, fmt::format_string<Args...> format, Args&&... args) {
  write(level::debug, subject, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace missive::log
