// The Prometheus text exposition format: see metrics_text.hpp.
#include "metrics_text.hpp"

#include <fmt/format.h>

#include <cmath>

namespace missive::exposition {

namespace {

std::string_view type_name(metric_type type) {
  switch (type) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
  }
  return "untyped";
}

void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  append_escaped(out, value, true);
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  append_escaped(out, help, false);
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Integral values within 2^53 are written without a fraction or exponent.
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<std::int64_t>(value));
  }
  return fmt::format("{}", value);  // the shortest text that reads back as the same double
}

void text_writer::family(std::string_view name, std::string_view help, metric_type type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void text_writer::series(std::string_view name, std::string_view suffix,
                         std::span<const label> labels, std::string_view extra_name,
                         std::string_view extra_value) {
  out_ += name;
  out_ += suffix;
  if (labels.empty() && extra_name.empty()) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  auto one = [&](std::string_view key, std::string_view value) {
    if (!first) out_ += ',';
    first = false;
    out_ += key;
    out_ += "=\"";
    append_escaped(out_, value, true);
    out_ += '"';
  };
  for (const auto& [key, value] : labels) one(key, value);
  if (!extra_name.empty()) one(extra_name, extra_value);
  out_ += "} ";
}

void text_writer::sample(std::string_view name, std::span<const label> labels,
                         std::uint64_t value) {
  series(name, "", labels);
  fmt::format_to(std::back_inserter(out_), "{}\n", value);
}

void text_writer::sample(std::string_view name, std::span<const label> labels,
                         std::int64_t value) {
  series(name, "", labels);
  fmt::format_to(std::back_inserter(out_), "{}\n", value);
}

void text_writer::sample(std::string_view name, std::span<const label> labels, double value) {
  series(name, "", labels);
  out_ += format_value(value);
  out_ += '\n';
}

void text_writer::histogram(std::string_view name, std::span<const label> labels,
                            std::span<const double> upper_bounds,
                            std::span<const std::uint64_t> counts, double sum) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < upper_bounds.size(); ++i) {
    if (i < counts.size()) cumulative += counts[i];
    series(name, "_bucket", labels, "le", format_value(upper_bounds[i]));
    fmt::format_to(std::back_inserter(out_), "{}\n", cumulative);
  }
  // Whatever lies above the last bound; the +Inf bucket is every observation.
  for (std::size_t i = upper_bounds.size(); i < counts.size(); ++i) cumulative += counts[i];
  series(name, "_bucket", labels, "le", "+Inf");
  fmt::format_to(std::back_inserter(out_), "{}\n", cumulative);
  series(name, "_sum", labels);
  out_ += format_value(sum);
  out_ += '\n';
  series(name, "_count", labels);
  fmt::format_to(std::back_inserter(out_), "{}\n", cumulative);
}

}  // namespace missive::exposition
