// Unit tests for the queue's shape (`missived queue summary`).
#include <doctest/doctest.h>

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
