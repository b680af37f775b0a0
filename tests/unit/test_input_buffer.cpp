#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "input_buffer.hpp"

using missive::input_buffer;

namespace {

void put(input_buffer& buffer, const std::string& bytes) {
  std::memcpy(buffer.prepare(bytes.size()), bytes.data(), bytes.size());
  buffer.commit(bytes.size());
}

}  // namespace

TEST_CASE("input buffer: what is committed is read back in order across consume and growth") {
  input_buffer buffer;
  CHECK(buffer.data().empty());
  put(buffer, "MAIL FROM:<a@b>\r\n");
  put(buffer, "RCPT TO:<c@d>\r\n");
  CHECK(buffer.data() == "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n");
  buffer.consume(17, 1 << 20);
  CHECK(buffer.data() == "RCPT TO:<c@d>\r\n");
  // Growing far past the capacity keeps the unconsumed bytes in front.
  std::string big(100000, 'x');
  put(buffer, big);
  CHECK(buffer.data().size() == 15 + big.size());
  CHECK(buffer.data().substr(0, 15) == "RCPT TO:<c@d>\r\n");
  CHECK(buffer.data().substr(15) == big);
}

TEST_CASE("input buffer: room is made by moving the unconsumed tail to the front") {
  input_buffer buffer;
  put(buffer, std::string(4000, 'a') + "tail");
  buffer.consume(4000, 1 << 20);
  const char* before = buffer.data().data();
  // 4 bytes are left at offset 4000; asking for 4000 more fits once they move to the front.
  char* room = buffer.prepare(4000);
  CHECK(buffer.data() == "tail");
  CHECK(buffer.data().data() <= before);
  CHECK(room == buffer.data().data() + 4);
}

TEST_CASE("input buffer: drained, a buffer larger than `keep` is given back; a small one stays") {
  input_buffer buffer;
  put(buffer, std::string(1000, 'a'));
  buffer.consume(1000, 4096);
  CHECK(buffer.data().empty());
  char* small = buffer.prepare(10);
  CHECK(small != nullptr);
  put(buffer, std::string(10000, 'b'));
  buffer.consume(buffer.data().size(), 4096);
  CHECK(buffer.data().empty());
  CHECK(buffer.data().data() == nullptr);  // storage released
  put(buffer, "again");
  CHECK(buffer.data() == "again");
}
