// Health statistics: histogram percentiles, the aggregator's health rows and
// the Prometheus histograms.
#include "gateway/control/health_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "gateway/control/aggregates.h"
#include "gateway/control/metrics.h"

namespace fg::ctl {
namespace {

constexpr int64_t kSec = 1'000'000;

TEST(LatencyHistogram, BucketsCoverEveryValueWithBoundedWidth) {
  for (int64_t v : {0L, 1L, 15L, 16L, 17L, 31L, 32L, 1000L, 40'000L, 123'456'789L, int64_t{1} << 40}) {
    const size_t b = LatencyHistogram::bucketOf(v);
    EXPECT_LE(LatencyHistogram::lowerBound(b), v) << v;
    EXPECT_LT(v, LatencyHistogram::upperBound(b)) << v;
    const int64_t width = LatencyHistogram::upperBound(b) - LatencyHistogram::lowerBound(b);
    if (v >= 16) {
      EXPECT_LE(width * 16, LatencyHistogram::lowerBound(b)) << v;
    } else {
      EXPECT_EQ(width, 1);
    }
  }
  // Adjacent buckets tile the line.
  for (size_t b = 0; b < 600; ++b) EXPECT_EQ(LatencyHistogram::upperBound(b), LatencyHistogram::lowerBound(b + 1));
}

TEST(LatencyHistogram, EqualSamplesGiveExactPercentiles) {
  LatencyHistogram h;
  for (int i = 0; i < 5; ++i) h.add(40'321);
  EXPECT_EQ(h.percentile(0.5), 40'321);
  EXPECT_EQ(h.percentile(0.99), 40'321);
  EXPECT_EQ(h.mean(), 40'321);
  EXPECT_EQ(h.count(), 5u);
}

TEST(LatencyHistogram, PercentilesByNearestRankWithinTheBucketError) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100; ++v) h.add(v * 1000);  // 1 ms .. 100 ms
  // Nearest rank: p50 = 50 ms, p90 = 90 ms, p99 = 99 ms.
  for (auto [q, want] : {std::pair{0.5, 50'000.0}, {0.9, 90'000.0}, {0.99, 99'000.0}}) {
    const double got = static_cast<double>(h.percentile(q));
    EXPECT_LE(std::fabs(got - want) / want, 1.0 / 32) << q << " -> " << got;
  }
  EXPECT_EQ(h.min(), 1000);
  EXPECT_EQ(h.max(), 100'000);
  EXPECT_EQ(h.mean(), 50'500);
  EXPECT_EQ(h.percentile(1.0), 100'000) << "clamped to the exact maximum";
  EXPECT_LE(std::abs(h.percentile(0.001) - 1000) * 32, 1000) << "the lowest rank: 1 ms within the bucket error";
}

TEST(LatencyHistogram, MergeAddsCounts) {
  LatencyHistogram a, b;
  a.add(10);
  b.add(20);
  b.add(30);
  a += b;
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 10);
  EXPECT_EQ(a.max(), 30);
  EXPECT_EQ(a.mean(), 20);
  EXPECT_EQ(a.percentile(0.5), 20);
}

TEST(AggregatorHealth, ApplicationRowsCarryPercentilesAndFailures) {
  const int64_t base = 1'700'000'040;
  Aggregator a({.interval_s = 60, .start_us = base * kSec});
  a.flowStart("f1", FlowAttributes{.application = "Zoom", .local_address = "", .rule = ""}, (base + 1) * kSec);
  a.health("Zoom", (base + 1) * kSec, HealthSample{.handshake_us = 40'000, .handshake_server_us = 30'000,
                                                  .handshake_client_us = 10'000, .response_us = 70'000});
  a.health("Zoom", (base + 2) * kSec, HealthSample{.handshake_server_us = 50'000, .failure = Failure::None,
                                                  .resets = 2});
  a.health("Zoom", (base + 3) * kSec, HealthSample{.failure = Failure::Refused});
  a.health("", (base + 4) * kSec, HealthSample{.failure = Failure::NoAnswer});
  a.health("Zoom", (base + 61) * kSec, HealthSample{.failure = Failure::Unreachable});  // next interval
  const auto rows = a.closeUntil((base + 60) * kSec);
  const AggregateRow* zoom = nullptr;
  const AggregateRow* unknown = nullptr;
  for (const auto& r : rows) {
    if (r.by == AggregateBy::Application && r.key == "Zoom") zoom = &r;
    if (r.by == AggregateBy::Application && r.key == "Unknown") unknown = &r;
  }
  ASSERT_TRUE(zoom && zoom->health);
  const auto j = zoom->json();
  EXPECT_EQ(j["flows_new"], 1);
  const auto& h = j["health"];
  EXPECT_EQ(h["flows"], 3);
  EXPECT_EQ(h["handshake"]["count"], 1);
  EXPECT_EQ(h["handshake"]["p50_us"], 40'000);
  EXPECT_EQ(h["handshake_server"]["count"], 2);
  EXPECT_EQ(h["handshake_server"]["min_us"], 30'000);
  EXPECT_EQ(h["handshake_server"]["max_us"], 50'000);
  EXPECT_EQ(h["handshake_server"]["mean_us"], 40'000);
  EXPECT_EQ(h["response"]["p99_us"], 70'000);
  EXPECT_FALSE(h.contains("tls_hello")) << "no samples, no member";
  EXPECT_EQ(h["failures"]["refused"], 1);
  EXPECT_EQ(h["failures"]["no_answer"], 0);
  EXPECT_EQ(h["failures"]["unreachable"], 0);
  EXPECT_EQ(h["resets"]["server"], 1);
  ASSERT_TRUE(unknown && unknown->health) << "a failed flow without traffic still gets its row";
  EXPECT_EQ(unknown->json()["health"]["failures"]["no_answer"], 1);
  EXPECT_EQ(unknown->counters, TrafficCounters{});
  // Cumulative totals for Prometheus include the open interval.
  const HealthTotals& t = a.healthTotals().at("Zoom");
  EXPECT_EQ(t.failures[0], 1u);
  EXPECT_EQ(t.failures[2], 1u);
  EXPECT_EQ(t.handshake_server.count, 2u);
}

TEST(AggregatorHealth, LateHealthGoesToTheOldestOpenInterval) {
  const int64_t base = 1'700'000'040;
  Aggregator a({.interval_s = 60, .start_us = base * kSec});
  (void)a.closeUntil((base + 60) * kSec);
  a.health("DNS", (base + 10) * kSec, HealthSample{.response_us = 1'500});
  const auto rows = a.closeUntil((base + 120) * kSec);
  bool found = false;
  for (const auto& r : rows)
    if (r.key == "DNS" && r.interval_start_s == base + 60 && r.health) found = r.health->response.count() == 1;
  EXPECT_TRUE(found);
  EXPECT_EQ(a.lateInputs(), 1u);
}

TEST(MetricsHealth, HistogramsAreCumulativeWithSumAndCount) {
  std::map<std::string, HealthTotals> totals;
  totals["TLS"].add(HealthSample{.handshake_us = 40'000, .failure = Failure::Refused});
  totals["TLS"].add(HealthSample{.handshake_us = 3'000'000});
  Exposition out;
  appendApplicationHealth(out, totals);
  const std::string& t = out.text();
  EXPECT_NE(t.find("# TYPE flowgate_app_tcp_handshake_seconds histogram\n"), std::string::npos);
  EXPECT_NE(t.find("flowgate_app_tcp_handshake_seconds_bucket{application=\"TLS\",le=\"0.025\"} 0\n"),
            std::string::npos);
  EXPECT_NE(t.find("flowgate_app_tcp_handshake_seconds_bucket{application=\"TLS\",le=\"0.05\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("flowgate_app_tcp_handshake_seconds_bucket{application=\"TLS\",le=\"2.5\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("flowgate_app_tcp_handshake_seconds_bucket{application=\"TLS\",le=\"5\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("flowgate_app_tcp_handshake_seconds_bucket{application=\"TLS\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(t.find("flowgate_app_tcp_handshake_seconds_sum{application=\"TLS\"} 3.04\n"), std::string::npos);
  EXPECT_NE(t.find("flowgate_app_tcp_handshake_seconds_count{application=\"TLS\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("flowgate_app_response_seconds_count{application=\"TLS\"} 0\n"), std::string::npos);
  EXPECT_NE(t.find("flowgate_app_connection_failures_total{application=\"TLS\",reason=\"refused\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("flowgate_app_connection_failures_total{application=\"TLS\",reason=\"no_answer\"} 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace fg::ctl
