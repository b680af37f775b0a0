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

void write(level lvl, std::string_view subject, std::string_view message) {
  if (lvl < lowest_level.load(std::memory_order_relaxed)) return;
  auto now = std::chrono::system_clock::now();
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::string line = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} {}: {}\n",
                                 utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                                 utc.tm_min, utc.tm_sec, millis.count() % 1000, level_name(lvl),
                                 subject, message);
  std::function<void()> ask;
  {
    std::lock_guard lock(write_mutex);
    held += line;
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
