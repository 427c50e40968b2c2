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
//                  A TCP entry whose state says the connection is over
//                  (LAST_ACK, TIME_WAIT, CLOSE; nl::tcpConnectionOver) ends
//                  the flow at once, not 120 s later at the kernel's
//                  destroy: its conntrack id is remembered, and the destroy
//                  that follows produces nothing (counted in late_destroys).
//   stats()        the `flow_stats` events: for every tracked flow whose
//                  counters moved since its previous one, the interval's
//                  deltas (counterDelta) and the cumulative totals.
//   endAll()       shutdown: a `flow_end` for every flow still tracked, with
//                  its last sampled counters.
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

// Conntrack's cumulative counters of one connection (original = the
// opener's direction, reply = the other).
struct CtCounters {
  uint64_t orig_bytes = 0, orig_packets = 0, reply_bytes = 0, reply_packets = 0;
  bool operator==(const CtCounters&) const = default;
};

// What moved between two samples of the same flow. A counter below its
// previous value means the conntrack was replaced (a new connection on the
// tuple): then all of `cur` is new.
CtCounters counterDelta(const CtCounters& prev, const CtCounters& cur);

struct DecidedFlow {
  std::string flow_id;
  nl::CtTuple tuple;            // original direction
  ctl::FlowAttributes attrs;    // application, local (= src) address, rule
  std::string src, dst;         // text, for subscription filters
  int64_t first_seen_us = 0;
  std::string record;           // the decided `flow` record (one JSON line)
  // Filled by Accounting from conntrack:
  uint32_t ct_id = 0;           // the conntrack this flow was matched to (0: none yet)
  bool sampled = false;         // `last` holds a conntrack sample
  CtCounters last{};            // the latest sample
  int64_t last_sample_us = 0;
  CtCounters reported{};        // at the previous flow_stats
  int64_t reported_us = 0;      // when the previous flow_stats (or the decision) was
  // The health figures the flow showed until it was decided, when any.
  std::optional<ctl::HealthSample> health{};
};

struct AccountingCounters {
  uint64_t tracked = 0;          // flows currently tracked
  uint64_t ended = 0;            // flow_end events produced
  uint64_t ended_early = 0;      // ... of which from a TCP state change before the destroy
  uint64_t ended_at_shutdown = 0;
  uint64_t samples = 0;          // conntrack entries that matched a tracked flow
  uint64_t stats = 0;            // flow_stats events produced
  uint64_t unmatched_destroys = 0;
  uint64_t late_destroys = 0;    // destroys of flows already ended early
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
  // of a tracked flow, or for a TCP entry whose connection is over.
  std::optional<ctl::Event> onConntrack(const nl::CtEntry& e, int64_t now_us);
  // flow_stats events for every tracked flow that moved since its last one.
  std::vector<ctl::Event> stats(int64_t now_us);
  // flow_end events (end_reason "shutdown") for every tracked flow; forgets them.
  std::vector<ctl::Event> endAll(int64_t now_us);
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
  // The tuples of tracked TCP connections an update said are over since the
  // last call: their counters are read next (ConntrackFeed looks each up).
  bool hasClosing() const { return !closing_.empty(); }
  std::vector<nl::CtTuple> takeClosing() {
    std::vector<nl::CtTuple> out;
    out.swap(closing_);
    return out;
  }

 private:
  ctl::FlowSample sampleOf(const DecidedFlow& f, const nl::CtEntry& e, int64_t ts_us) const;
  // Which of the flows tracked under one tuple a conntrack entry belongs to
  // (a tuple is reused when a client opens a new connection from the same
  // port: the old conntrack may still end after the new flow was decided).
  size_t pick(const std::vector<DecidedFlow>& list, const nl::CtEntry& e) const;

  // The flow_end event of `f` with the counters `c` (from conntrack or its
  // last sample) at `now_us`.
  ctl::Event endEvent(const DecidedFlow& f, const CtCounters& c, bool has_counters, int64_t now_us,
                      std::optional<uint64_t> start_ns, std::optional<uint64_t> stop_ns, uint32_t ct_id,
                      const char* end_reason) const;
  void forgetClosed(int64_t now_us);

  ctl::Aggregator aggregator_;
  // Flows in decision order per tuple (almost always one).
  std::unordered_map<nl::CtTuple, std::vector<DecidedFlow>, CtTupleHash> flows_;
  // Conntrack ids of flows ended early -> when; their destroy is expected
  // within the kernel's TIME_WAIT (forgotten after kClosedMemoryUs).
  static constexpr int64_t kClosedMemoryUs = 600'000'000;
  std::unordered_map<uint32_t, int64_t> closed_ids_;
  std::vector<nl::CtTuple> closing_;
  size_t tracked_ = 0;
  AccountingCounters counters_;
};

// The conntrack tuple of a flow given as text addresses (as in records).
std::optional<nl::CtTuple> tupleOf(const std::string& src_ip, uint16_t src_port,
                                   const std::string& dst_ip, uint16_t dst_port, uint8_t proto);

}  // namespace fg::daemon
