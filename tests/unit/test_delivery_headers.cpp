// Unit tests for the fields of final delivery and forwarding-loop detection.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "delivery_headers.hpp"
#include "message_headers.hpp"

using namespace missive;

TEST_CASE("delivery_headers: Return-Path from the envelope, Delivered-To the mailbox") {
  CHECK(delivery_headers("bob@b.test", "alice@a.test") ==
        "Return-Path: <bob@b.test>\r\nDelivered-To: alice@a.test\r\n");
  // RFC 5321 4.4: a bounce's null reverse-path is written <>
  CHECK(delivery_headers("", "alice@a.test") == "Return-Path: <>\r\nDelivered-To: alice@a.test\r\n");
  for (auto [sender, recipient] : {std::pair{"", "a@b"}, std::pair{"long.sender@x.test", "r@y"}}) {
    CHECK(delivery_headers_size(sender, recipient) == delivery_headers(sender, recipient).size());
  }
}

TEST_CASE("delivered_before: a Delivered-To naming a mailbox of this message, in any case") {
  auto headers = scan_headers("Delivered-To: Alice@A.test\r\nSubject: x\r\n\r\n");
  CHECK(delivered_before(headers, {"bob@a.test", "alice@a.test"}) == "alice@a.test");
  CHECK_FALSE(delivered_before(headers, {"bob@a.test"}));
  CHECK_FALSE(delivered_before(scan_headers("Subject: x\r\n\r\n"), {"alice@a.test"}));
}
