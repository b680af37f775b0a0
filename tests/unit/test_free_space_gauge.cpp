#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "data_directory.hpp"

using missive::free_space;
using missive::free_space_gauge;

TEST_CASE("free space gauge: far above the need it answers from memory, near it it reads again") {
  auto dir = std::filesystem::temp_directory_path() /
             ("missive-gauge-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto now = free_space(dir);
  REQUIRE(now.has_value());
  if (*now < 3 * free_space_gauge::headroom) {
    MESSAGE("less than 3 GiB free in the temporary directory: nothing to observe");
    std::filesystem::remove_all(dir);
    return;
  }
  free_space_gauge gauge;
  auto first = gauge.available(dir, 1024);
  REQUIRE(first.has_value());
  {
    std::ofstream big(dir / "big", std::ios::binary);
    std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 8; ++i) big << chunk;
  }
  ::sync();
  // 8 MiB less now, but far above 1 KiB: the first reading stands.
  CHECK(gauge.available(dir, 1024) == first);
  // Asking for nearly all of it is close to the limit: the filesystem is read again.
  auto close = gauge.available(dir, *first - free_space_gauge::headroom / 2);
  REQUIRE(close.has_value());
  CHECK(*close < *first);
  std::filesystem::remove_all(dir);
}
