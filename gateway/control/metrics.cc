#include "gateway/control/metrics.h"

#include <cmath>
#include <cstdio>

namespace fg::ctl {

namespace {

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string sanitizeName(std::string_view n, bool allow_colon) {
  std::string s;
  for (char c : n) s.push_back(isAlpha(c) || isDigit(c) || c == '_' || (allow_colon && c == ':') ? c : '_');
  if (s.empty() || isDigit(s.front())) s.insert(s.begin(), '_');
  return s;
}

std::string_view typeText(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Untyped: return "untyped";
    case MetricType::Histogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string escapeLabelValue(std::string_view v) {
  std::string s;
  s.reserve(v.size());
  for (char c : v) {
    if (c == '\\') s += "\\\\";
    else if (c == '"') s += "\\\"";
    else if (c == '\n') s += "\\n";
    else s.push_back(c);
  }
  return s;
}

std::string escapeHelp(std::string_view v) {
  std::string s;
  for (char c : v) {
    if (c == '\\') s += "\\\\";
    else if (c == '\n') s += "\\n";
    else s.push_back(c);
  }
  return s;
}

bool validMetricName(std::string_view n) {
  if (n.empty() || !(isAlpha(n[0]) || n[0] == '_' || n[0] == ':')) return false;
  for (char c : n) {
    if (!(isAlpha(c) || isDigit(c) || c == '_' || c == ':')) return false;
  }
  return true;
}

bool validLabelName(std::string_view n) {
  if (n.empty() || !(isAlpha(n[0]) || n[0] == '_')) return false;
  if (n.size() >= 2 && n[0] == '_' && n[1] == '_') return false;
  for (char c : n) {
    if (!(isAlpha(c) || isDigit(c) || c == '_')) return false;
  }
  return true;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Exposition& Exposition::family(std::string_view name, MetricType type, std::string_view help) {
  name_ = validMetricName(name) ? std::string(name) : sanitizeName(name, true);
  out_ += "# HELP " + name_ + " " + escapeHelp(help) + "\n";
  out_ += "# TYPE " + name_ + " " + std::string(typeText(type)) + "\n";
  return *this;
}

void Exposition::line(std::string_view value, const Labels& labels, std::string_view suffix) {
  out_ += name_;
  out_ += suffix;
  if (!labels.empty()) {
    out_.push_back('{');
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_.push_back(',');
      first = false;
      out_ += validLabelName(k) ? k : sanitizeName(k, false);
      out_ += "=\"";
      out_ += escapeLabelValue(v);
      out_.push_back('"');
    }
    out_.push_back('}');
  }
  out_.push_back(' ');
  out_ += value;
  out_.push_back('\n');
}

Exposition& Exposition::sample(uint64_t value, const Labels& labels) {
  line(std::to_string(value), labels);
  return *this;
}
Exposition& Exposition::sample(int64_t value, const Labels& labels) {
  line(std::to_string(value), labels);
  return *this;
}
Exposition& Exposition::sample(double value, const Labels& labels) {
  line(formatValue(value), labels);
  return *this;
}

Exposition& Exposition::durations(const Histogram& h, const Labels& labels) {
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  for (uint64_t bound = 4; bound <= (uint64_t{1} << Histogram::kMaxExp); bound <<= 1) {
    // Values below `bound` µs: Prometheus' `le` is inclusive, so the bound
    // written is the largest value counted, one µs below.
    char le[32];
    std::snprintf(le, sizeof le, "%.9g", static_cast<double>(bound - 1) / 1e6);
    with_le.back().second = le;
    line(std::to_string(h.countBelow(bound)), with_le, "_bucket");
  }
  with_le.back().second = "+Inf";
  line(std::to_string(h.count()), with_le, "_bucket");
  char sum[32];  // µs resolution without the binary fraction's noise
  std::snprintf(sum, sizeof sum, "%.15g", static_cast<double>(h.sum()) / 1e6);
  line(sum, labels, "_sum");
  line(std::to_string(h.count()), labels, "_count");
  return *this;
}

Exposition& Exposition::counter(std::string_view name, std::string_view help, uint64_t value,
                                const Labels& labels) {
  return family(name, MetricType::Counter, help).sample(value, labels);
}
Exposition& Exposition::gauge(std::string_view name, std::string_view help, double value, const Labels& labels) {
  return family(name, MetricType::Gauge, help).sample(value, labels);
}

void appendApplicationTotals(Exposition& out, const std::map<std::string, TrafficCounters>& totals) {
  out.family("flowgate_app_bytes_total", MetricType::Counter, "Bytes per application and direction.");
  for (const auto& [app, c] : totals) {
    out.sample(c.bytes_up, {{"application", app}, {"direction", "up"}});
    out.sample(c.bytes_down, {{"application", app}, {"direction", "down"}});
  }
  out.family("flowgate_app_packets_total", MetricType::Counter, "Packets per application and direction.");
  for (const auto& [app, c] : totals) {
    out.sample(c.packets_up, {{"application", app}, {"direction", "up"}});
    out.sample(c.packets_down, {{"application", app}, {"direction", "down"}});
  }
  out.family("flowgate_app_flows_total", MetricType::Counter, "Flows started per application.");
  for (const auto& [app, c] : totals) out.sample(c.flows_new, {{"application", app}});
}

}  // namespace fg::ctl
