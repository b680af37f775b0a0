// Logging: see log.hpp.
#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace missive::log {

namespace {

std::atomic<level> lowest_level{level::info};
std::mutex write_mutex;
// Guarded by write_mutex: lines held for a deferred flush, and how to ask for one.
std::string held;
bool flush_requested = false;
std::function<void()> schedule_flush;
// Held lines beyond this are written at once, whatever is scheduled.
constexpr std::size_t max_held = 64 * 1024;

void write_out(std::string_view text) {
  if (!text.empty()) std::fwrite(text.data(), 1, text.size(), stderr);
}

const char* level_name(level lvl) {
  switch (lvl) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warning: return "warning";
    case level::error: return "error";
  }
  return "info";
}

}  // namespace

void set_level(level lowest) { lowest_level = lowest; }

bool enabled(level lvl) { return lvl >= lowest_level.load(std::memory_order_relaxed); }

void write(level lvl, std::string_view subject, std::string_view message) {
  if (!enabled(lvl)) return;
  auto now = std::chrono::system_clock::now();
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  // The "YYYY-MM-DDTHH:MM:SS." part changes once a second: each thread keeps its own.
  thread_local std::time_t stamped_second = -1;
  thread_local char stamp[80];  // room for any int the format could print
  if (seconds != stamped_second) {
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
    stamped_second = seconds;
  }
  auto ms = static_cast<int>(millis.count() % 1000);
  const char fraction[] = {char('0' + ms / 100), char('0' + ms / 10 % 10), char('0' + ms % 10),
                           'Z', ' '};
  std::function<void()> ask;
  {
    std::lock_guard lock(write_mutex);
    for (std::string_view part : {std::string_view(stamp), std::string_view(fraction, 5),
                                  std::string_view(level_name(lvl)), std::string_view(" "),
                                  subject, std::string_view(": "), message,
                                  std::string_view("\n")}) {
      held += part;
    }
    if (!schedule_flush || lvl >= level::warning || held.size() > max_held) {
      write_out(held);
      held.clear();
    } else if (!flush_requested) {
      flush_requested = true;
      ask = schedule_flush;
    }
  }
  if (ask) ask();  // outside the lock: it may run flush() at once
}

void flush() {
  std::lock_guard lock(write_mutex);
  flush_requested = false;
  write_out(held);
  held.clear();
}

deferred_flush::deferred_flush(std::function<void()> schedule) {
  std::lock_guard lock(write_mutex);
  schedule_flush = std::move(schedule);
}

deferred_flush::~deferred_flush() {
  {
    std::lock_guard lock(write_mutex);
    schedule_flush = nullptr;
  }
  flush();
}

}  // namespace missive::log
