// Queue ids: see queue_id.hpp.
#include "queue_id.hpp"

#include <fmt/format.h>

#include <chrono>
#include <random>

namespace missive {

std::string make_queue_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  // 52 bits of microseconds last until the year 2112; 20 random bits keep two ids of the
  // same microsecond apart (the UNIQUE constraint catches the rest).
  return fmt::format("{:013X}{:05X}", static_cast<std::uint64_t>(micros) & ((1ULL << 52) - 1),
                     random() & 0xFFFFF);
}

}  // namespace missive
