// Internal: writes the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one
// HELP and TYPE line per family, then its samples. Adding a metric is one
// call; a histogram is one call with its buckets.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gasched::detail::http {

/// Label names and values of one sample, e.g. {{"node", "n1"}}.
using label_set = std::vector<std::pair<std::string, std::string>>;

/// One sample of a labelled family.
struct labelled_value {
  label_set labels;
  double value = 0;
};

/// A histogram as Prometheus wants it: cumulative counts per upper bound
/// (the +Inf bucket is `count`), the sum of observations, their count.
struct histogram_data {
  std::vector<double> upper_bounds;       ///< ascending, without +Inf
  std::vector<uint64_t> cumulative;       ///< observations <= each bound
  double sum = 0;
  uint64_t count = 0;
};

class metrics_writer {
public:
  /// A counter: its name ends in _total, its value never goes down.
  void counter(const std::string& name, const std::string& help, uint64_t value);

  /// A gauge without labels.
  void gauge(const std::string& name, const std::string& help, double value);

  /// A gauge family, one sample per label set (e.g. per node).
  void gauge(const std::string& name, const std::string& help,
             const std::vector<labelled_value>& samples);

  /// A histogram family with one label set (empty for none).
  void histogram(const std::string& name, const std::string& help,
                 const histogram_data& h, const label_set& ls = {});

  /// The document so far.
  const std::string& text() const noexcept {
    return out_;
  }

private:
  void header(const std::string& name, const std::string& help, const char* type);
  void sample(const std::string& name, const label_set& ls, const std::string& value);

  std::string out_;
};

/// A label value escaped as the format wants: \\, \" and \n.
std::string escape_label(const std::string& value);

/// A sample value: integers exactly, others in shortest round-trip form, +Inf.
std::string format_value(double value);

} // namespace gasched::detail::http
