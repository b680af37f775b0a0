// Unit tests for the identity an outbox claim records: this process is alive under it; a
// later process with the same pid (another start time), or one on another host, is not.
#include <doctest/doctest.h>

#include "process_identity.hpp"

using missive::client::process_alive;
using missive::client::this_process;

TEST_CASE("process_alive: this process, and not a namesake") {
  auto me = this_process();
  CHECK(me.pid > 0);
  CHECK(me.start > 0);
  CHECK(process_alive(me));
  auto later = me;
  later.start += 1;
  CHECK_FALSE(process_alive(later));
  auto elsewhere = me;
  elsewhere.host += ".elsewhere";
  CHECK_FALSE(process_alive(elsewhere));
  auto nobody = me;
  nobody.pid = 0;
  CHECK_FALSE(process_alive(nobody));
}
