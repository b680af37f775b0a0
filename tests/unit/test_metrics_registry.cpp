// Unit tests for the relay's metrics registry (metrics.hpp) and the metrics endpoint's
// request parsing and responses (metrics_http.hpp).
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "metrics.hpp"
#include "metrics_http.hpp"
#include "metrics_text.hpp"

using namespace missive;
using exposition::text_writer;

TEST_CASE("metrics::histogram: a value on a bound falls in that bucket (le)") {
  static constexpr std::uint64_t bounds[] = {10, 20};
  metrics::histogram h(bounds, 0.5);
  for (std::uint64_t v : {0, 10, 11, 20, 21, 1000}) h.observe(v);
  text_writer out;
  h.write(out, "h");
  CHECK(out.text() ==
        "h_bucket{le=\"5\"} 2\nh_bucket{le=\"10\"} 4\nh_bucket{le=\"+Inf\"} 6\nh_sum 531\n"
        "h_count 6\n");
}

TEST_CASE("metrics::registry: refusals by stage, class and reason; others not counted") {
  metrics::registry r;
  r.message_refused("RCPT", 550, "5.1.1");
  r.message_refused("RCPT", 550, "5.1.1");
  r.message_refused("MAIL", 452, "4.3.1");
  r.message_refused("END-OF-MESSAGE", 554, "5.6.0");
  r.message_refused("DATA", 503, "5.9.9");  // not in the table: "unknown"
  r.message_refused("AUTH", 535, "5.7.8");  // not a stage of the mail transaction
  r.message_refused("RCPT", 250, "2.1.5");  // not a refusal
  text_writer out;
  r.write(out, std::nullopt, 0, true);
  const std::string& text = out.text();
  CHECK(text.find("missive_smtp_messages_refused_total{stage=\"RCPT\",class=\"5xx\","
                  "reason=\"user_unknown\"} 2\n") != std::string::npos);
  CHECK(text.find("missive_smtp_messages_refused_total{stage=\"MAIL\",class=\"4xx\","
                  "reason=\"storage_full\"} 1\n") != std::string::npos);
  CHECK(text.find("missive_smtp_messages_refused_total{stage=\"END-OF-MESSAGE\",class=\"5xx\","
                  "reason=\"bad_content\"} 1\n") != std::string::npos);
  CHECK(text.find("missive_smtp_messages_refused_total{stage=\"DATA\",class=\"5xx\","
                  "reason=\"unknown\"} 1\n") != std::string::npos);
  CHECK(text.find("stage=\"AUTH\"") == std::string::npos);
  CHECK(text.find("missive_queue_recipients") == std::string::npos);  // no queue given
  CHECK(text.find("missive_store_writable 1\n") != std::string::npos);
}

TEST_CASE("metrics::registry: recipients, queue, listeners and the store's batches") {
  metrics::registry r;
  r.recipient("sent", true);
  r.recipient("deferred", false);
  r.recipient("deferred", false);
  r.recipient("notified", false);  // a DSN was made: not a recipient's fate
  auto& listener = r.add_listener(metrics::service::smtp, "127.0.0.1:2525");
  {
    metrics::open_session one(listener);
    metrics::open_session two(listener);
    CHECK(listener.open_sessions.value() == 2);
  }
  metrics::open_session three(listener);
  r.write_batch(3, true, std::chrono::milliseconds(2));
  r.write_batch(1, false, std::chrono::milliseconds(0));
  CHECK_FALSE(r.store_writable());
  queue_counts queue{4, 2, 1, 1000};
  text_writer out;
  r.write(out, queue, 1060, false);
  const std::string& text = out.text();
  CHECK(text.find("missive_recipients_total{outcome=\"delivered\",destination=\"local\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("missive_recipients_total{outcome=\"deferred\",destination=\"remote\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("missive_sessions_open{service=\"smtp\",listener=\"127.0.0.1:2525\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("missive_connections_total{service=\"smtp\",listener=\"127.0.0.1:2525\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("missive_smtp_messages_accepted_total{service=\"smtp\"} 0\n") != std::string::npos);
  CHECK(text.find("missive_queue_recipients{state=\"queued\"} 4\n") != std::string::npos);
  CHECK(text.find("missive_queue_recipients{state=\"sending\"} 1\n") != std::string::npos);
  CHECK(text.find("missive_queue_oldest_due_message_age_seconds 60\n") != std::string::npos);
  CHECK(text.find("missive_store_write_batches_total 1\n") != std::string::npos);
  CHECK(text.find("missive_store_write_batch_failures_total 1\n") != std::string::npos);
  CHECK(text.find("missive_store_write_batch_jobs_bucket{le=\"4\"} 1\n") != std::string::npos);
  CHECK(text.find("missive_store_writable 0\n") != std::string::npos);
  CHECK(text.find("missive_build_info{version=\"") != std::string::npos);
}

TEST_CASE("metrics endpoint: request lines and routes") {
  using http::route;
  struct route_case {
    std::string line;
    std::optional<route> expected;  // nullopt: a malformed request line
  };
  const std::vector<route_case> cases = {
      {"GET /metrics HTTP/1.1", route::metrics},
      {"GET /metrics?x=1 HTTP/1.1", route::metrics},
      {"HEAD /metrics HTTP/1.0", route::metrics},
      {"GET /healthz HTTP/1.1", route::healthz},
      {"POST /metrics HTTP/1.1", route::method_not_allowed},
      {"DELETE /healthz HTTP/1.1", route::method_not_allowed},
      {"GET / HTTP/1.1", route::not_found},
      {"POST /other HTTP/1.1", route::not_found},
      {"GET /metrics/ HTTP/1.1", route::not_found},
      {"GET /metrics HTTP/2.0", std::nullopt},
      {"GET /metrics", std::nullopt},
      {"GET  /metrics HTTP/1.1", std::nullopt},
      {"G(T /metrics HTTP/1.1", std::nullopt},
      {"", std::nullopt},
      {"GET /met\x01rics HTTP/1.1", std::nullopt},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    auto parsed = http::parse_request_line(c.line);
    REQUIRE(parsed.has_value() == c.expected.has_value());
    if (parsed) CHECK(http::route_of(*parsed) == *c.expected);
  }
}

TEST_CASE("metrics endpoint: responses carry their length and close the connection") {
  CHECK(http::response(200, "OK", "text/plain", "ok\n", false) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\nok\n");
  CHECK(http::response(200, "OK", "text/plain", "ok\n", true) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n");
  CHECK(http::response(405, "Method Not Allowed", "text/plain", "", false, "Allow: GET, HEAD\r\n")
            .find("Allow: GET, HEAD\r\n\r\n") != std::string::npos);
}
