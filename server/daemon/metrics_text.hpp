// The Prometheus text exposition format, version 0.0.4 (prometheus.io/docs/instrumenting/
// exposition_formats): families with # HELP and # TYPE, samples with escaped label values,
// histograms as cumulative _bucket series ending at le="+Inf", then _sum and _count. Pure:
// it writes into a string, no I/O, no clock.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace missive::exposition {

// The Content-Type of what text_writer writes.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

// What a family is (the # TYPE line).
enum class metric_type { counter, gauge, histogram };

// One label: a name (a valid label name, chosen by the code) and a value (any UTF-8 text,
// escaped on output).
using label = std::pair<std::string_view, std::string_view>;

// Appends families and samples to a text body in the exposition format.
class text_writer {
 public:
  // Starts a family: its # HELP (escaped) and # TYPE lines. Its samples follow.
  void family(std::string_view name, std::string_view help, metric_type type);
  // A sample of a counter or gauge: `name{labels} value`.
  void sample(std::string_view name, std::span<const label> labels, std::uint64_t value);
  void sample(std::string_view name, std::span<const label> labels, std::int64_t value);
  void sample(std::string_view name, std::span<const label> labels, double value);
  // A histogram's series: `counts` holds one count per bucket, not cumulative, the first
  // for values up to upper_bounds[0] and the last (counts.size() == upper_bounds.size() + 1)
  // for values above every bound; they are written cumulative, with le="+Inf", _sum, _count.
  void histogram(std::string_view name, std::span<const label> labels,
                 std::span<const double> upper_bounds, std::span<const std::uint64_t> counts,
                 double sum);
  // The text written so far.
  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void series(std::string_view name, std::string_view suffix, std::span<const label> labels,
              std::string_view extra_name = {}, std::string_view extra_value = {});
  std::string out_;
};

// A label value escaped as the format asks: backslash, double quote and line feed become
// \\, \" and \n.
std::string escape_label_value(std::string_view value);
// HELP text escaped: backslash and line feed become \\ and \n.
std::string escape_help(std::string_view help);
// A sample value: integers as such, otherwise the shortest text that reads back the same;
// +Inf, -Inf and NaN as the format spells them.
std::string format_value(double value);

}  // namespace missive::exposition
