// Unit tests for conversation threads: References and In-Reply-To first (RFC 5322 3.6.4),
// the subject only for a message that has neither.
#include <doctest/doctest.h>

#include <vector>

#include "msg_id_list.hpp"
#include "thread_grouping.hpp"

using missive::client::base_subject;
using missive::client::group_threads;
using missive::client::parse_msg_ids;
using missive::client::thread_member;
using threads = std::vector<std::vector<std::size_t>>;

TEST_CASE("parse_msg_ids: each <...>, folding and phrases between ignored") {
  using list = std::vector<std::string>;
  CHECK(parse_msg_ids("<a@x> <b@x>") == list{"a@x", "b@x"});
  CHECK(parse_msg_ids("<a@x>\r\n\t<b@x>") == list{"a@x", "b@x"});
  CHECK(parse_msg_ids("Your message of Monday <a@x>") == list{"a@x"});
  CHECK(parse_msg_ids("<a@\r\n x>") == list{"a@x"});
  CHECK(parse_msg_ids("no ids").empty());
  CHECK(parse_msg_ids("<unclosed").empty());
  CHECK(parse_msg_ids("<>").empty());
}

TEST_CASE("base_subject: reply and forward prefixes removed") {
  CHECK(base_subject("Re: Plan") == "plan");
  CHECK(base_subject("RE: Re: Fwd: Plan") == "plan");
  CHECK(base_subject("Re[2]: Plan ") == "plan");
  CHECK(base_subject("Fw:Plan") == "plan");
  CHECK(base_subject("Regarding the plan") == "regarding the plan");
  CHECK(base_subject("Re:") == "");
}

TEST_CASE("group_threads: a conversation by its ids, newest thread first") {
  std::vector<thread_member> m = {
      {1, 100, "a@x", {}, {}, "Plan"},
      {2, 200, "b@x", {"a@x"}, {"a@x"}, "Re: Plan"},
      {3, 400, "c@x", {"b@x"}, {"a@x", "b@x"}, "Something else"},
      {4, 300, "d@x", {}, {}, "Invoice"},
  };
  CHECK(group_threads(m) == threads{{0, 1, 2}, {3}});
}

TEST_CASE("group_threads: a missing parent still ties its replies") {
  std::vector<thread_member> m = {
      {1, 100, "b@x", {"a@x"}, {"a@x"}, "Re: gone"},
      {2, 200, "c@x", {}, {"a@x"}, "Re: gone"},
  };
  CHECK(group_threads(m) == threads{{0, 1}});
}

TEST_CASE("group_threads: the subject only when In-Reply-To and References are missing") {
  std::vector<thread_member> m = {
      {1, 100, "a@x", {}, {}, "Plan"},
      {2, 200, "b@x", {}, {}, "RE: plan"},              // by subject
      {3, 300, "c@x", {"z@x"}, {}, "Re: Plan"},         // has In-Reply-To: not by subject
      {4, 50, "", {}, {}, ""},                          // empty subjects are not a thread
      {5, 60, "", {}, {}, ""},
  };
  CHECK(group_threads(m) == threads{{2}, {0, 1}, {4}, {3}});
}

TEST_CASE("group_threads: equal dates keep id order") {
  std::vector<thread_member> m = {
      {7, 100, "a@x", {}, {}, "x"},
      {5, 100, "b@x", {"a@x"}, {}, "y"},
  };
  CHECK(group_threads(m) == threads{{1, 0}});
}
