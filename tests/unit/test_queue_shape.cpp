// Unit tests for the queue's shape (`missived queue summary`) and the admin JSON strings.
#include <doctest/doctest.h>

#include "json_text.hpp"
#include "queue_shape.hpp"

using namespace missive;

namespace {

recipient_status recipient(std::string address, std::string state) {
  recipient_status r;
  r.address = std::move(address);
  r.state = std::move(state);
  return r;
}

message_summary message(std::int64_t received_at, std::vector<recipient_status> recipients) {
  message_summary m;
  m.received_at = received_at;
  m.recipients = std::move(recipients);
  return m;
}

}  // namespace

TEST_CASE("ages fall in qshape's doubling buckets, bounds excluded") {
  CHECK(age_bucket(0) == 0);
  CHECK(age_bucket(5 * 60 - 1) == 0);
  CHECK(age_bucket(5 * 60) == 1);
  CHECK(age_bucket(10 * 60) == 2);
  CHECK(age_bucket(1280 * 60 - 1) == 8);
  CHECK(age_bucket(1280 * 60) == 9);
  CHECK(age_bucket(400LL * 86400) == 9);
  CHECK(bucket_label(0) == "0-5m");
  CHECK(bucket_label(1) == "5-10m");
  CHECK(bucket_label(9) == "1280m+");
}

TEST_CASE("the shape counts waiting recipients by domain and by their message's age") {
  const std::int64_t now = 1'000'000;
  std::vector<message_summary> messages{
      message(now - 60, {recipient("a@B.test", "queued"), recipient("b@b.test", "delivered"),
                         recipient("c@c.test", "deferred")}),
      message(now - 700, {recipient("d@b.test", "sending"), recipient("e@b.test", "failed")}),
      message(now - 100000, {recipient("f@b.test", "deferred")}),
  };
  queue_shape shape = shape_of(messages, now);
  CHECK(shape.total.total == 4);
  CHECK(shape.total.counts[0] == 2);
  CHECK(shape.total.counts[2] == 1);
  CHECK(shape.total.counts[9] == 1);
  REQUIRE(shape.domains.size() == 2);
  CHECK(shape.domains[0].domain == "b.test");  // most first; the domain lowercased
  CHECK(shape.domains[0].total == 3);
  CHECK(shape.domains[0].counts[0] == 1);
  CHECK(shape.domains[0].counts[2] == 1);
  CHECK(shape.domains[0].counts[9] == 1);
  CHECK(shape.domains[1].domain == "c.test");
  CHECK(shape.domains[1].total == 1);
  CHECK(shape_of({}, now).domains.empty());
}

TEST_CASE("JSON strings escape what they must and never carry invalid UTF-8") {
  CHECK(json::quote("plain") == "\"plain\"");
  CHECK(json::quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json::quote("l1\r\nl2\t") == "\"l1\\r\\nl2\\t\"");
  CHECK(json::quote(std::string_view("\x01\x7f", 2)) == "\"\\u0001\\u007f\"");
  CHECK(json::quote("caf\xc3\xa9 \xe2\x82\xac") == "\"caf\xc3\xa9 \xe2\x82\xac\"");
  CHECK(json::quote("bad \xff end") == "\"bad \\ufffd end\"");
  CHECK(json::quote("cut \xe2\x82") == "\"cut \\ufffd\\ufffd\"");
  CHECK(json::quote("overlong \xc0\xaf") == "\"overlong \\ufffd\\ufffd\"");
  CHECK(json::quote_or_null(std::nullopt) == "null");
}
