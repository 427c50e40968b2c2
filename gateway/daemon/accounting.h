// Accounting: per-flow byte/packet totals from conntrack, including the
// packets that took the kernel fast path and never reached flowgate.
//
// Part of the daemon's wiring (it joins netlink/ and gateway/control/, so it
// lives with main, not in either adapter). Single-threaded: the control
// thread owns it.
//
// Several flows may share a tuple for a moment (a new connection from the
// same client port while the old conntrack lingers in TIME_WAIT); a
// conntrack entry goes to the flow whose first packet is the earliest one
// not before the conntrack's start (nf_conntrack_timestamp), else the oldest.
//
//   track()        a flow was decided: remember it under its original
//                  conntrack tuple (flowgate's src is the side that opened
//                  the flow, i.e. conntrack's original direction) together
//                  with its decided record; it counts as a new flow in the
//                  aggregates from its first packet's time.
//   onConntrack()  a dump entry or an update: a counter sample; a destroy
//                  event: the final sample, and the `flow_end` event built
//                  from the decided record with conntrack's totals.
//   close()        interval boundary: emit the complete aggregate intervals.
// Flows never decided by flowgate (bypassed in the kernel) are not tracked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/control/aggregates.h"
#include "gateway/control/handler.h"
#include "netlink/conntrack.h"

namespace fg::daemon {

struct CtTupleHash {
  size_t operator()(const nl::CtTuple& t) const noexcept;
};

struct DecidedFlow {
  std::string flow_id;
  nl::CtTuple tuple;            // original direction
  ctl::FlowAttributes attrs;    // application, local (= src) address, rule
  std::string src, dst;         // text, for subscription filters
  int64_t first_seen_us = 0;
  std::string record;           // the decided `flow` record (one JSON line)
  // The health figures the flow showed until it was decided, when any.
  std::optional<ctl::HealthSample> health{};
};

struct AccountingCounters {
  uint64_t tracked = 0;          // flows currently tracked
  uint64_t ended = 0;            // flow_end events produced
  uint64_t samples = 0;          // conntrack entries that matched a tracked flow
  uint64_t unmatched_destroys = 0;
};

class Accounting {
 public:
  explicit Accounting(ctl::Aggregator::Options options) : aggregator_(options) {}

  void track(DecidedFlow flow);
  // The health figures of a flow that ended undecided (e.g. a failed
  // connection): counted in the aggregates, nothing else tracked.
  void health(const std::string& application, int64_t first_seen_us, const ctl::HealthSample& s) {
    aggregator_.health(application, first_seen_us, s);
  }
  // A conntrack entry at `now_us`. Returns the flow_end event for a destroy
  // of a tracked flow.
  std::optional<ctl::Event> onConntrack(const nl::CtEntry& e, int64_t now_us);
  // Every aggregate interval complete at `t_us`.
  std::vector<ctl::AggregateRow> close(int64_t t_us) { return aggregator_.closeUntil(t_us); }
  int64_t nextBoundary(int64_t t_us) const { return aggregator_.nextBoundary(t_us); }

  const ctl::Aggregator& aggregator() const { return aggregator_; }
  // Every tracked (decided, still in conntrack) flow.
  template <typename Fn>
  void forEachTracked(Fn&& fn) const {
    for (const auto& [tuple, list] : flows_)
      for (const auto& f : list) fn(f);
  }
  AccountingCounters counters() const;

 private:
  ctl::FlowSample sampleOf(const DecidedFlow& f, const nl::CtEntry& e, int64_t ts_us) const;
  // Which of the flows tracked under one tuple a conntrack entry belongs to
  // (a tuple is reused when a client opens a new connection from the same
  // port: the old conntrack may still end after the new flow was decided).
  size_t pick(const std::vector<DecidedFlow>& list, const nl::CtEntry& e) const;

  ctl::Aggregator aggregator_;
  // Flows in decision order per tuple (almost always one).
  std::unordered_map<nl::CtTuple, std::vector<DecidedFlow>, CtTupleHash> flows_;
  size_t tracked_ = 0;
  AccountingCounters counters_;
};

// The conntrack tuple of a flow given as text addresses (as in records).
std::optional<nl::CtTuple> tupleOf(const std::string& src_ip, uint16_t src_port,
                                   const std::string& dst_ip, uint16_t dst_port, uint8_t proto);

}  // namespace fg::daemon
