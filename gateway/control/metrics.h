// Prometheus text exposition (format 0.0.4) helpers.
//
// Pure: builds text, does no I/O, keeps no global registry; each instance is
// used by one thread. The daemon's ControlHandler::metrics() builds one
// Exposition from its counters (and ControlServer::appendMetrics,
// appendApplicationTotals) and returns take().
//
// Conventions (https://prometheus.io/docs/practices/naming/): names are
// flowgate_<what>_<unit>, counters end in _total, bytes are in bytes,
// durations in seconds; a label set distinguishes kinds instead of names
// (flowgate_verdicts_total{verdict="drop"}). Each family gets one HELP and
// one TYPE line followed by its samples. Label values are escaped (\\, \",
// \n); names that are not valid metric/label names are a programming error
// (FG_BUG-like: they are replaced by a valid name so the output still parses).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/histogram.h"
#include "gateway/control/aggregates.h"

namespace fg::ctl {

enum class MetricType : uint8_t { Counter, Gauge, Untyped, Histogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

// Label value escaping: backslash, double quote and newline.
std::string escapeLabelValue(std::string_view v);
// HELP text escaping: backslash and newline.
std::string escapeHelp(std::string_view v);
// [a-zA-Z_:][a-zA-Z0-9_:]*
bool validMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"
bool validLabelName(std::string_view name);
// A value as Prometheus writes it: integers exactly, NaN, +Inf, -Inf.
std::string formatValue(double v);

class Exposition {
 public:
  // Starts a family; the following samples belong to it. A family must be
  // started once per exposition (a repeated name is merged by the caller).
  Exposition& family(std::string_view name, MetricType type, std::string_view help);
  Exposition& sample(uint64_t value, const Labels& labels = {});
  Exposition& sample(int64_t value, const Labels& labels = {});
  Exposition& sample(double value, const Labels& labels = {});
  // After family(name, MetricType::Histogram, help): a histogram of µs
  // durations (common/histogram.h) in seconds: cumulative `_bucket` lines at
  // every power of two from 4 µs to ~67 s and +Inf, then `_sum` and `_count`.
  Exposition& durations(const Histogram& h, const Labels& labels = {});

  // Shorthands for a family with one sample.
  Exposition& counter(std::string_view name, std::string_view help, uint64_t value, const Labels& labels = {});
  Exposition& gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void line(std::string_view value, const Labels& labels, std::string_view suffix = {});
  std::string name_;
  std::string out_;
};

// flowgate_app_bytes_total{application,direction="up|down"},
// flowgate_app_packets_total{application,direction}, flowgate_app_flows_total{application}.
void appendApplicationTotals(Exposition& out, const std::map<std::string, TrafficCounters>& totals);

}  // namespace fg::ctl
