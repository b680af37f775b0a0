// Unit tests for the Prometheus text exposition format (metrics_text.hpp): escaping, values,
// histograms.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "metrics_text.hpp"

using namespace missive;
using exposition::label;
using exposition::metric_type;
using exposition::text_writer;

TEST_CASE("exposition: label values escape backslash, double quote and line feed") {
  struct escape_case {
    std::string value;
    std::string escaped;
  };
  const std::vector<escape_case> cases = {
      {"plain", "plain"},
      {"", ""},
      {"a\\b", "a\\\\b"},
      {"say \"hi\"", "say \\\"hi\\\""},
      {"two\nlines", "two\\nlines"},
      {"\\n", "\\\\n"},  // a backslash then n, not a line feed
      {"tab\there", "tab\there"},  // only the three are escaped
      {"caf\xc3\xa9", "caf\xc3\xa9"},  // UTF-8 as it is
      {"\\\"\n", "\\\\\\\"\\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value);
    CHECK(exposition::escape_label_value(c.value) == c.escaped);
  }
  text_writer out;
  label labels[] = {{"listener", "a\"b\\c\nd"}, {"service", "smtp"}};
  out.sample("m_total", labels, std::uint64_t{3});
  CHECK(out.text() == "m_total{listener=\"a\\\"b\\\\c\\nd\",service=\"smtp\"} 3\n");
}

TEST_CASE("exposition: HELP escapes backslash and line feed but not quotes") {
  text_writer out;
  out.family("m_total", "a \"quoted\" \\ help\nline", metric_type::counter);
  CHECK(out.text() ==
        "# HELP m_total a \"quoted\" \\\\ help\\nline\n"
        "# TYPE m_total counter\n");
}

TEST_CASE("exposition: samples without labels, gauges, and float values") {
  text_writer out;
  out.family("g", "A gauge.", metric_type::gauge);
  out.sample("g", {}, std::int64_t{-2});
  out.sample("g", {}, 0.25);
  out.sample("g", {}, 3.0);
  out.sample("g", {}, std::numeric_limits<double>::infinity());
  out.sample("g", {}, -std::numeric_limits<double>::infinity());
  out.sample("g", {}, std::nan(""));
  CHECK(out.text() ==
        "# HELP g A gauge.\n# TYPE g gauge\ng -2\ng 0.25\ng 3\ng +Inf\ng -Inf\ng NaN\n");
  CHECK(exposition::format_value(1e-9) == "1e-09");
  CHECK(std::stod(exposition::format_value(0.1 + 0.2)) == 0.1 + 0.2);  // reads back the same
}

TEST_CASE("exposition: histogram buckets are cumulative and end with +Inf, _sum, _count") {
  text_writer out;
  const double bounds[] = {0.005, 0.1, 1};
  // Per bucket: 2 up to 0.005, 0 up to 0.1, 3 up to 1, 1 above.
  const std::uint64_t counts[] = {2, 0, 3, 1};
  label labels[] = {{"service", "smtp"}};
  out.family("d_seconds", "Durations.", metric_type::histogram);
  out.histogram("d_seconds", labels, bounds, counts, 4.5);
  CHECK(out.text() ==
        "# HELP d_seconds Durations.\n"
        "# TYPE d_seconds histogram\n"
        "d_seconds_bucket{service=\"smtp\",le=\"0.005\"} 2\n"
        "d_seconds_bucket{service=\"smtp\",le=\"0.1\"} 2\n"
        "d_seconds_bucket{service=\"smtp\",le=\"1\"} 5\n"
        "d_seconds_bucket{service=\"smtp\",le=\"+Inf\"} 6\n"
        "d_seconds_sum{service=\"smtp\"} 4.5\n"
        "d_seconds_count{service=\"smtp\"} 6\n");
}

TEST_CASE("exposition: an empty histogram without labels") {
  text_writer out;
  const double bounds[] = {1, 2};
  const std::uint64_t counts[] = {0, 0, 0};
  out.histogram("h", {}, bounds, counts, 0);
  CHECK(out.text() ==
        "h_bucket{le=\"1\"} 0\nh_bucket{le=\"2\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

