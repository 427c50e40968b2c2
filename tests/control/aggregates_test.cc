#include "gateway/control/aggregates.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace fg::ctl {
namespace {

constexpr int64_t kSec = 1'000'000;

FlowAttributes at(const std::string& app, const std::string& addr = "", const std::string& rule = "") {
  FlowAttributes a;
  a.application = app;
  a.local_address = addr;
  a.rule = rule;
  return a;
}

FlowSample s(const std::string& id, const std::string& app, int64_t ts_s, uint64_t bu, uint64_t bd, uint64_t pu,
             uint64_t pd, const std::string& addr = "10.0.0.2", const std::string& rule = "") {
  return FlowSample{.flow_id = id,
                    .attrs = at(app, addr, rule),
                    .bytes_up = bu,
                    .bytes_down = bd,
                    .packets_up = pu,
                    .packets_down = pd,
                    .ts_us = ts_s * kSec};
}

const AggregateRow* find(const std::vector<AggregateRow>& rows, int64_t start, AggregateBy by,
                         const std::string& key = "") {
  for (const auto& r : rows) {
    if (r.interval_start_s == start && r.by == by && r.key == key) return &r;
  }
  return nullptr;
}

// One flow over three 60 s intervals, sampled at the boundaries.
TEST(Aggregator, FlowSpanningThreeIntervalsIsSplitByDeltas) {
  const int64_t base = 1'700'000'040;  // 1700000040 = 28333334 * 60: aligned
  ASSERT_EQ(base % 60, 0);
  Aggregator a({.interval_s = 60, .start_us = base * kSec});
  a.flowStart("f1", at("Netflix"), (base + 30) * kSec);
  a.sample(s("f1", "Netflix", base + 45, 100, 1000, 1, 2));
  a.sample(s("f1", "Netflix", base + 60, 150, 5000, 2, 6));    // boundary: closes interval 0
  EXPECT_TRUE(a.closeUntil((base + 59) * kSec).empty());        // interval 0 not complete yet
  a.sample(s("f1", "Netflix", base + 120, 400, 9000, 5, 10));  // closes interval 1
  a.flowEnd(s("f1", "Netflix", base + 150, 410, 9500, 6, 11));
  const auto rows = a.closeUntil((base + 180) * kSec);

  const auto* i0 = find(rows, base, AggregateBy::Application, "Netflix");
  const auto* i1 = find(rows, base + 60, AggregateBy::Application, "Netflix");
  const auto* i2 = find(rows, base + 120, AggregateBy::Application, "Netflix");
  ASSERT_TRUE(i0 && i1 && i2);
  EXPECT_EQ(i0->counters, (TrafficCounters{.bytes_up = 150, .bytes_down = 5000, .packets_up = 2, .packets_down = 6,
                                           .flows_new = 1}));
  EXPECT_EQ(i1->counters, (TrafficCounters{.bytes_up = 250, .bytes_down = 4000, .packets_up = 3, .packets_down = 4}));
  EXPECT_EQ(i2->counters, (TrafficCounters{.bytes_up = 10, .bytes_down = 500, .packets_up = 1, .packets_down = 1}));
  TrafficCounters sum;
  sum += i0->counters;
  sum += i1->counters;
  sum += i2->counters;
  EXPECT_EQ(sum, (TrafficCounters{.bytes_up = 410, .bytes_down = 9500, .packets_up = 6, .packets_down = 11,
                                  .flows_new = 1}));
  // Each interval ends with its total row.
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[1].by, AggregateBy::Total);
  EXPECT_EQ(rows[1].counters, i0->counters);
  EXPECT_EQ(rows[5].by, AggregateBy::Total);
  EXPECT_EQ(rows[5].interval_start_s, base + 120);
  EXPECT_EQ(a.activeFlows(), 0u);
  EXPECT_EQ(a.applicationTotals().at("Netflix"), sum);
}

TEST(Aggregator, AlignmentAndBoundaryRule) {
  Aggregator a({.interval_s = 10});
  // A sample exactly at 20 s belongs to [10,20); one at 20 s + 1 µs to [20,30).
  a.sample(s("f", "DNS", 20, 5, 0, 1, 0));
  FlowSample next = s("f", "DNS", 20, 7, 0, 2, 0);
  next.ts_us += 1;
  a.sample(next);
  // A flow starting exactly at 20 s is new in [20,30).
  a.flowStart("g", at("DNS"), 20 * kSec);
  auto rows = a.closeUntil(30 * kSec);
  const auto* first = find(rows, 10, AggregateBy::Application, "DNS");
  const auto* second = find(rows, 20, AggregateBy::Application, "DNS");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->counters.bytes_up, 5u);
  EXPECT_EQ(first->counters.flows_new, 0u);
  EXPECT_EQ(second->counters.bytes_up, 2u);
  EXPECT_EQ(second->counters.flows_new, 1u);
  EXPECT_EQ(first->interval_s, 10u);
  // Closing mid-interval emits nothing more; the next boundary does.
  EXPECT_TRUE(a.closeUntil(39 * kSec).empty());
  EXPECT_EQ(a.nextBoundary(39 * kSec), 40 * kSec);
  EXPECT_EQ(a.nextBoundary(40 * kSec), 50 * kSec);
  rows = a.closeUntil(40 * kSec);
  ASSERT_EQ(rows.size(), 1u);  // an empty interval still gets its total row
  EXPECT_EQ(rows[0].by, AggregateBy::Total);
  EXPECT_EQ(rows[0].interval_start_s, 30);
  EXPECT_TRUE(rows[0].counters.zero());
  // A long quiet stretch collapses to the last interval.
  rows = a.closeUntil(100 * kSec);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].interval_start_s, 90);
}

TEST(Aggregator, NewFlowsCountedOnce) {
  Aggregator a({.interval_s = 60});
  a.flowStart("f", at("TLS"), 1 * kSec);
  a.flowStart("f", at("TLS"), 2 * kSec);
  a.sample(s("f", "TLS", 3, 1, 1, 1, 1));
  a.flowEnd(s("f", "TLS", 4, 2, 2, 2, 2));
  a.flowStart("f", at("TLS"), 5 * kSec);     // after its end: ignored
  a.sample(s("f", "TLS", 6, 50, 50, 50, 50));            // late sample after end: ignored
  a.sample(s("h", "TLS", 7, 1, 0, 1, 0));                // known only by samples: not "new"
  const auto rows = a.closeUntil(60 * kSec);
  const auto* r = find(rows, 0, AggregateBy::Application, "TLS");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->counters.flows_new, 1u);
  EXPECT_EQ(r->counters.bytes_up, 3u);
  EXPECT_EQ(r->counters.packets_down, 2u);
  EXPECT_EQ(a.anomalies(), 1u);
}

TEST(Aggregator, LateInputGoesToTheOldestOpenInterval) {
  Aggregator a({.interval_s = 60});
  a.sample(s("f", "HTTP", 30, 10, 10, 1, 1));
  auto rows = a.closeUntil(60 * kSec);
  ASSERT_FALSE(rows.empty());
  a.sample(s("f", "HTTP", 50, 15, 10, 2, 1));  // stamped in the emitted interval
  a.flowStart("g", at("HTTP"), 20 * kSec);
  EXPECT_EQ(a.lateInputs(), 2u);
  rows = a.closeUntil(120 * kSec);
  const auto* r = find(rows, 60, AggregateBy::Application, "HTTP");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->counters.bytes_up, 5u);
  EXPECT_EQ(r->counters.flows_new, 1u);
}

TEST(Aggregator, CounterRegressionIsIgnoredAndCounted) {
  Aggregator a({.interval_s = 60});
  a.sample(s("f", "X", 1, 100, 100, 10, 10));
  a.sample(s("f", "X", 2, 90, 200, 10, 10));  // bytes_up went backwards
  a.sample(s("f", "X", 3, 120, 200, 11, 10));
  const auto rows = a.closeUntil(60 * kSec);
  const auto* r = find(rows, 0, AggregateBy::Application, "X");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->counters.bytes_up, 120u);
  EXPECT_EQ(r->counters.bytes_down, 200u);
  EXPECT_EQ(a.anomalies(), 1u);
}

TEST(Aggregator, PerAddressAndRuleRowsAndAppChange) {
  Aggregator a({.interval_s = 60, .per_address = true, .per_rule = true});
  a.flowStart("f", at("", "10.0.0.2"), 1 * kSec);
  a.sample(s("f", "", 2, 10, 20, 1, 1, "10.0.0.2", ""));
  a.sample(s("f", "Netflix", 3, 30, 220, 2, 3, "10.0.0.2", "zero-rate"));
  a.sample(s("g", "Netflix", 4, 5, 5, 1, 1, "10.0.0.3", "zero-rate"));
  const auto rows = a.closeUntil(60 * kSec);
  const auto* unknown = find(rows, 0, AggregateBy::Application, "Unknown");
  const auto* nf = find(rows, 0, AggregateBy::Application, "Netflix");
  const auto* a2 = find(rows, 0, AggregateBy::Address, "10.0.0.2");
  const auto* a3 = find(rows, 0, AggregateBy::Address, "10.0.0.3");
  const auto* rule = find(rows, 0, AggregateBy::Rule, "zero-rate");
  const auto* total = find(rows, 0, AggregateBy::Total);
  ASSERT_TRUE(unknown && nf && a2 && a3 && rule && total);
  EXPECT_EQ(unknown->counters.bytes_down, 20u);
  EXPECT_EQ(unknown->counters.flows_new, 1u);
  EXPECT_EQ(nf->counters.bytes_down, 205u);
  EXPECT_EQ(a2->counters.bytes_down, 220u);
  EXPECT_EQ(a3->counters.bytes_down, 5u);
  EXPECT_EQ(rule->counters.bytes_down, 205u);
  EXPECT_EQ(total->counters.bytes_down, 225u);
  EXPECT_EQ(total->counters.flows_new, 1u);
  EXPECT_EQ(rows.back().by, AggregateBy::Total);
  // JSON shape and event keys.
  EXPECT_EQ(nf->json().dump(),
            "{\"event\":\"aggregate\",\"interval_start\":0,\"interval_s\":60,\"by\":\"application\","
            "\"application\":\"Netflix\",\"bytes_up\":25,\"bytes_down\":205,\"packets_up\":2,\"packets_down\":3,"
            "\"flows_new\":0}");
  const Event e = nf->toEvent();
  EXPECT_EQ(e.topic, Topic::Aggregate);
  EXPECT_EQ(e.application, "Netflix");
  EXPECT_EQ(a3->toEvent().src, "10.0.0.3");
  EXPECT_EQ(rule->toEvent().rule, "zero-rate");
}

TEST(Aggregator, PartialFirstInterval) {
  Aggregator a({.interval_s = 60, .start_us = 90 * kSec});
  EXPECT_TRUE(a.closeUntil(60 * kSec).empty());  // before the start: nothing
  a.sample(s("f", "X", 100, 1, 1, 1, 1));
  auto rows = a.closeUntil(120 * kSec);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].partial);
  EXPECT_EQ(rows[0].json().value("partial", false), true);
  rows = a.closeUntil(180 * kSec);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_FALSE(rows[0].partial);
  EXPECT_FALSE(rows[0].json().contains("partial"));
}

// Random flows with random sample times: whatever the interval split, the
// emitted rows add up to every flow's final counters.
TEST(Aggregator, TotalsAreConservedUnderRandomSampling) {
  std::mt19937_64 rng(12345);
  Aggregator a({.interval_s = 7, .per_address = true});
  struct F {
    std::string id, app;
    uint64_t bu = 0, bd = 0, pu = 0, pd = 0;
    bool ended = false;
  };
  std::vector<F> flows;
  std::map<std::string, TrafficCounters> want;
  const char* apps[] = {"A", "B", "C"};
  int64_t t = 1'000 * kSec;
  std::vector<AggregateRow> rows;
  for (int step = 0; step < 5000; ++step) {
    t += static_cast<int64_t>(rng() % (3 * kSec));
    const int op = static_cast<int>(rng() % 10);
    if (op == 0 || flows.empty()) {
      F f{.id = "f" + std::to_string(step), .app = apps[rng() % 3]};
      a.flowStart(f.id, at(f.app, "10.0.0.1"), t);
      want[f.app].flows_new += 1;
      flows.push_back(f);
    } else if (op == 1) {
      for (auto& r : a.closeUntil(t)) rows.push_back(r);
    } else {
      F& f = flows[rng() % flows.size()];
      if (f.ended) continue;
      const uint64_t dbu = rng() % 5000, dbd = rng() % 50000;
      f.bu += dbu;
      f.bd += dbd;
      f.pu += dbu ? 1 : 0;
      f.pd += dbd ? 2 : 0;
      FlowSample smp{.flow_id = f.id, .attrs = at(f.app, "10.0.0.1"),
                     .bytes_up = f.bu, .bytes_down = f.bd, .packets_up = f.pu, .packets_down = f.pd, .ts_us = t};
      want[f.app] += TrafficCounters{.bytes_up = dbu, .bytes_down = dbd, .packets_up = dbu ? 1u : 0u,
                                     .packets_down = dbd ? 2u : 0u};
      if (op == 2) {
        a.flowEnd(smp);
        f.ended = true;
      } else {
        a.sample(smp);
      }
    }
  }
  for (auto& r : a.closeUntil(t + 100 * kSec)) rows.push_back(r);
  std::map<std::string, TrafficCounters> got;
  TrafficCounters total_rows, total_addr;
  int64_t prev_start = INT64_MIN;
  for (const auto& r : rows) {
    EXPECT_GE(r.interval_start_s, prev_start);
    EXPECT_EQ(r.interval_start_s % 7, 0);
    prev_start = r.interval_start_s;
    if (r.by == AggregateBy::Application) got[r.key] += r.counters;
    if (r.by == AggregateBy::Total) total_rows += r.counters;
    if (r.by == AggregateBy::Address) total_addr += r.counters;
  }
  EXPECT_EQ(got, want);
  TrafficCounters all;
  for (const auto& [_, c] : want) all += c;
  EXPECT_EQ(total_rows, all);
  EXPECT_EQ(total_addr, all);
  EXPECT_EQ(a.applicationTotals(), want);
  EXPECT_EQ(a.anomalies(), 0u);
}

}  // namespace
}  // namespace fg::ctl
