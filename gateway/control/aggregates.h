// Aggregator: per-interval traffic totals per application (and optionally
// per local address and per deciding rule). Zero-rating accounting reads
// these records, so the arithmetic is exact and conserved.
//
// Pure and single-threaded (the control thread owns it); no clock of its
// own: every input carries its timestamp (microseconds since the epoch, as
// core::Timestamp) and the owner says when intervals are complete.
//
// Inputs, per flow (identified by a unique id, e.g. the flow_id):
//   flowStart(id, attrs, ts)  the flow exists (counted once as a new flow)
//   sample(s)                 cumulative counters of the flow at s.ts
//   flowEnd(s)                the final cumulative counters; the flow is forgotten
//
// The interval rule (I = interval in µs, intervals [kI, (k+1)I) aligned to
// the epoch):
//   * A sample's delta is its cumulative counters minus the flow's previous
//     sample (zero before the first sample). The delta is the traffic of the
//     time (previous sample, this sample], so it is attributed to the
//     interval that contains the instant just before the sample:
//     k = ceil(ts / I) - 1. A sample stamped exactly at a boundary (k+1)I
//     therefore closes interval k; the daemon samples every active flow at
//     each boundary so that a flow spanning intervals is split exactly.
//   * A new flow counts in the interval containing its start time:
//     k = floor(ts / I).
//   * Input for an interval that has already been emitted (late input) is
//     attributed to the oldest interval not yet emitted, so nothing is lost.
//   * Per flow the deltas telescope: the sum over all intervals equals the
//     flow's last cumulative counters exactly. A counter that goes backwards
//     is an input error: that sample is ignored (anomalies()) and the
//     previous values stay the baseline.
//   * Application, local address and rule are taken from each sample (a
//     flow classified late moves from "Unknown" to its application for the
//     traffic after classification). An empty application is "Unknown";
//     rows for an empty address or rule are not emitted.
//   * Samples for a flow after its flowEnd() are ignored for two intervals
//     (ids are remembered that long), not mistaken for a new flow.
//
// Output: closeUntil(t) emits every interval that ends at or before t, in
// order. Each emitted interval is a run of rows: one per application with
// traffic or new flows, then (when enabled) one per local address and per
// rule, and always last one "total" row (also for an interval without any
// traffic, so readers see time pass; runs of empty intervals are collapsed
// to the last one). The total row is the sum of the application rows. The
// interval in which the aggregator started (Options::start_us) is marked
// "partial":true: its totals are right but cover only part of it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/control/handler.h"
#include "gateway/control/health_stats.h"

namespace fg::ctl {

struct TrafficCounters {
  uint64_t bytes_up = 0, bytes_down = 0;
  uint64_t packets_up = 0, packets_down = 0;
  uint64_t flows_new = 0;
  TrafficCounters& operator+=(const TrafficCounters& o);
  bool operator==(const TrafficCounters&) const = default;
  bool zero() const { return *this == TrafficCounters{}; }
};

struct FlowAttributes {
  std::string application;    // nDPI application name; "" = Unknown
  std::string local_address;  // the local side's address, text form
  std::string rule;           // deciding rule, "" when none
};

struct FlowSample {
  std::string flow_id;
  FlowAttributes attrs;
  // Cumulative since the flow began; "up" = sent by the local side.
  uint64_t bytes_up = 0, bytes_down = 0;
  uint64_t packets_up = 0, packets_down = 0;
  int64_t ts_us = 0;
};

enum class AggregateBy : uint8_t { Application, Address, Rule, Total };
std::string_view toString(AggregateBy b);

struct AggregateRow {
  int64_t interval_start_s = 0;
  uint32_t interval_s = 0;
  AggregateBy by = AggregateBy::Total;
  std::string key;  // application, address or rule; "" for Total
  TrafficCounters counters;
  bool partial = false;  // the interval began before the aggregator started
  // Application rows: the health of the application's flows that brought
  // figures in this interval (health()), when any.
  std::optional<HealthStats> health;

  // {"event":"aggregate","interval_start":S,"interval_s":60,"by":"application",
  //  "application":"Netflix","bytes_up":..,"bytes_down":..,"packets_up":..,
  //  "packets_down":..,"flows_new":..} (+ "partial":true for the first interval,
  //  + "health":{..} on application rows with health figures, docs/health.md)
  nlohmann::ordered_json json() const;
  // For ControlServer::publish: topic Aggregate; application/src/rule set
  // from the key so subscription filters apply to the row.
  Event toEvent() const;
};

class Aggregator {
 public:
  struct Options {
    uint32_t interval_s = 60;  // >= 1
    bool per_address = false;
    bool per_rule = false;
    // When the owner started feeding input (µs). The interval containing it
    // is emitted with "partial":true; empty intervals before it are never
    // emitted. 0 = unknown (no interval is marked partial).
    int64_t start_us = 0;
  };

  explicit Aggregator(Options options);

  void flowStart(const std::string& flow_id, const FlowAttributes& attrs, int64_t ts_us);
  void sample(const FlowSample& s);
  void flowEnd(const FlowSample& final_sample);
  // One flow's health figures, counted in the interval containing `ts_us`
  // (late input: the oldest open one) under its application. The
  // application gets a row in that interval even without traffic (a failed
  // connection moves no bytes that conntrack accounts).
  void health(const std::string& application, int64_t ts_us, const HealthSample& s);

  // Emits every interval ending at or before `t_us` (see the rule above).
  std::vector<AggregateRow> closeUntil(int64_t t_us);

  // Start of the oldest interval not yet emitted, in µs (nullopt before any input).
  std::optional<int64_t> openFrom() const;
  // Next boundary after `t_us`: when the owner should sample and close.
  int64_t nextBoundary(int64_t t_us) const;

  // Totals per application since start, including intervals not yet
  // emitted (for the Prometheus flowgate_app_* counters).
  const std::map<std::string, TrafficCounters>& applicationTotals() const { return app_totals_; }
  // Health since start per application (the Prometheus histograms).
  const std::map<std::string, HealthTotals>& healthTotals() const { return health_totals_; }
  size_t activeFlows() const { return flows_.size(); }
  uint64_t anomalies() const { return anomalies_; }
  uint64_t lateInputs() const { return late_; }
  const Options& options() const { return opt_; }

 private:
  struct FlowState {
    TrafficCounters last;  // cumulative at the previous sample (flows_new unused)
  };
  struct Interval {
    std::map<std::string, TrafficCounters> apps, addresses, rules;
    std::map<std::string, HealthStats> health;  // by application
  };

  int64_t intervalOfSample(int64_t ts_us) const;
  int64_t intervalOfStart(int64_t ts_us) const;
  Interval& intervalFor(int64_t k);
  void add(int64_t k, const FlowAttributes& attrs, const TrafficCounters& delta);
  void apply(const FlowSample& s);
  void emit(int64_t k, const Interval* iv, std::vector<AggregateRow>& out) const;

  Options opt_;
  int64_t interval_us_;
  std::optional<int64_t> next_to_emit_;  // index of the oldest interval not yet emitted
  std::map<int64_t, Interval> intervals_;
  std::unordered_map<std::string, FlowState> flows_;
  std::unordered_map<std::string, int64_t> ended_;  // id -> interval index of its end
  std::map<std::string, TrafficCounters> app_totals_;
  std::map<std::string, HealthTotals> health_totals_;
  uint64_t anomalies_ = 0, late_ = 0;
};

}  // namespace fg::ctl
