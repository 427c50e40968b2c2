#include "gateway/control/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace fg::ctl {
namespace {

TEST(Metrics, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escapeLabelValue("plain"), "plain");
  EXPECT_EQ(escapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escapeHelp("x\\y\nz\"q"), "x\\\\y\\nz\"q");
}

TEST(Metrics, NameValidation) {
  EXPECT_TRUE(validMetricName("flowgate_packets_total"));
  EXPECT_TRUE(validMetricName("a:b_c"));
  EXPECT_FALSE(validMetricName("1abc"));
  EXPECT_FALSE(validMetricName("a-b"));
  EXPECT_FALSE(validMetricName(""));
  EXPECT_TRUE(validLabelName("application"));
  EXPECT_FALSE(validLabelName("__reserved"));
  EXPECT_FALSE(validLabelName("a:b"));
}

TEST(Metrics, FormatsFamilies) {
  Exposition e;
  e.counter("flowgate_packets_total", "Packets seen.", 12);
  e.family("flowgate_verdicts_total", MetricType::Counter, "Verdicts by kind.")
      .sample(uint64_t{3}, {{"verdict", "accept"}})
      .sample(uint64_t{1}, {{"verdict", "drop"}});
  e.gauge("flowgate_flows_active", "Active flows.", 7.0);
  e.gauge("flowgate_ratio", "A ratio.", 0.25, {{"queue", "0"}});
  EXPECT_EQ(e.text(),
            "# HELP flowgate_packets_total Packets seen.\n"
            "# TYPE flowgate_packets_total counter\n"
            "flowgate_packets_total 12\n"
            "# HELP flowgate_verdicts_total Verdicts by kind.\n"
            "# TYPE flowgate_verdicts_total counter\n"
            "flowgate_verdicts_total{verdict=\"accept\"} 3\n"
            "flowgate_verdicts_total{verdict=\"drop\"} 1\n"
            "# HELP flowgate_flows_active Active flows.\n"
            "# TYPE flowgate_flows_active gauge\n"
            "flowgate_flows_active 7\n"
            "# HELP flowgate_ratio A ratio.\n"
            "# TYPE flowgate_ratio gauge\n"
            "flowgate_ratio{queue=\"0\"} 0.25\n");
}

TEST(Metrics, ValuesAndBadNames) {
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(-3), "-3");
  EXPECT_EQ(formatValue(1.5), "1.5");
  Exposition e;
  e.counter("bad-name", "h", uint64_t{18446744073709551615u}, {{"bad label", "v"}});
  EXPECT_NE(e.text().find("bad_name{bad_label=\"v\"} 18446744073709551615\n"), std::string::npos) << e.text();
}

TEST(Metrics, ApplicationTotals) {
  std::map<std::string, TrafficCounters> t;
  t["Netflix"] = TrafficCounters{.bytes_up = 10, .bytes_down = 2000, .packets_up = 1, .packets_down = 3, .flows_new = 2};
  t["Odd \"app\""] = TrafficCounters{.bytes_up = 1};
  Exposition e;
  appendApplicationTotals(e, t);
  const std::string& s = e.text();
  EXPECT_NE(s.find("# TYPE flowgate_app_bytes_total counter\n"), std::string::npos);
  EXPECT_NE(s.find("flowgate_app_bytes_total{application=\"Netflix\",direction=\"down\"} 2000\n"), std::string::npos);
  EXPECT_NE(s.find("flowgate_app_bytes_total{application=\"Netflix\",direction=\"up\"} 10\n"), std::string::npos);
  EXPECT_NE(s.find("flowgate_app_packets_total{application=\"Netflix\",direction=\"down\"} 3\n"), std::string::npos);
  EXPECT_NE(s.find("flowgate_app_flows_total{application=\"Netflix\"} 2\n"), std::string::npos);
  EXPECT_NE(s.find("application=\"Odd \\\"app\\\"\""), std::string::npos);
}

}  // namespace
}  // namespace fg::ctl

namespace fg::ctl {
namespace {

TEST(Metrics, DurationHistogramsAreCumulativeInSeconds) {
  Histogram h;
  h.record(2);     // < 4 µs
  h.record(5);     // < 8 µs
  h.record(5);
  h.record(3000);  // < 4096 µs
  Exposition e;
  e.family("flowgate_x_seconds", MetricType::Histogram, "x").durations(h, {{"queue", "0"}});
  const std::string t = e.take();
  EXPECT_NE(t.find("# TYPE flowgate_x_seconds histogram\n"), std::string::npos) << t;
  EXPECT_NE(t.find("flowgate_x_seconds_bucket{queue=\"0\",le=\"3e-06\"} 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("flowgate_x_seconds_bucket{queue=\"0\",le=\"7e-06\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("flowgate_x_seconds_bucket{queue=\"0\",le=\"0.002047\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("flowgate_x_seconds_bucket{queue=\"0\",le=\"0.004095\"} 4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("flowgate_x_seconds_bucket{queue=\"0\",le=\"+Inf\"} 4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("flowgate_x_seconds_sum{queue=\"0\"} 0.003012\n"), std::string::npos) << t;
  EXPECT_NE(t.find("flowgate_x_seconds_count{queue=\"0\"} 4\n"), std::string::npos) << t;
}

}  // namespace
}  // namespace fg::ctl
