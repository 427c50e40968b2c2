// The event router: decisions and log lines from any thread to the control
// thread, then to accounting (decided flows, for flow_end and aggregates)
// and out to every sink (control socket subscribers, MQTT, the events file).
//
// What it does: onDecided() encodes a decision on the worker's thread and
// hands it over through a bounded lock-free queue; logSink() does the same
// for log lines (the `log` topic); drain() runs on the control thread.
//
// What it never does: block a worker (a full queue drops and counts), or
// call a sink from any thread but the control thread.
//
// Threading: onDecided()/logSink() from any thread; drain(), emit() and
// addSink() on the control thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "gateway/control/event_queue.h"
#include "gateway/control/handler.h"
#include "gateway/core/engine.h"
#include "gateway/core/flow.h"
#include "gateway/daemon/accounting.h"
#include "policy/policy.h"

namespace fg::daemon {

// A decision travelling from a worker to the control thread.
struct DecisionItem {
  ctl::Event event;
  DecidedFlow flow;  // flow_id empty when the tuple could not be formed
};

// The event a decision becomes: the flow record, and what accounting tracks.
DecisionItem decisionItem(const core::Flow& flow, const policy::Decision& d, const policy::PolicySet& p,
                          std::string_view in_interface);

// The aggregator's view of a flow's health figures.
ctl::HealthSample healthSample(const core::HealthFigures& h);

// The health of a flow that ended undecided (a failed connection, above
// all), travelling from a worker to the control thread.
struct HealthItem {
  std::string application;
  int64_t first_seen_us = 0;
  ctl::HealthSample sample;
};

class EventRouter {
 public:
  using Sink = std::function<void(const ctl::Event&)>;
  static constexpr size_t kDecisionQueue = 65536;
  static constexpr size_t kLogQueue = 4096;
  static constexpr size_t kHealthQueue = 16384;

  explicit EventRouter(Accounting& accounting, size_t decision_capacity = kDecisionQueue)
      : accounting_(accounting), decisions_(decision_capacity), health_(kHealthQueue), logs_(kLogQueue) {}

  // A sink for the events whose topic bit (1 << ctl::Topic) is in `topics`.
  void addSink(Sink sink, uint64_t topics = ~uint64_t{0});

  // Worker thread: encodes the decision, hands it over without waiting.
  void onDecided(const core::Flow& flow, const policy::Decision& d, const policy::PolicySet& p,
                 std::string_view in_interface);
  // Worker thread: a flow ended undecided with health figures (EndedFlow).
  void onUndecidedEnd(const core::EndedFlow& flow);
  // log::Sink (any thread): every log line also becomes a `log` event.
  static void logSink(log::Level level, std::string_view line, void* router);

  // Control thread: queued decisions go to accounting and out, then the
  // health of undecided flows to accounting, then log events.
  void drain();
  void emit(const ctl::Event& e);

  // Decisions dropped because the control thread fell behind.
  uint64_t dropped() const { return decisions_.dropped() + health_.dropped(); }

 private:
  struct Route {
    Sink sink;
    uint64_t topics;
  };
  Accounting& accounting_;
  ctl::EventQueue<DecisionItem> decisions_;
  ctl::EventQueue<HealthItem> health_;
  ctl::EventQueue<ctl::Event> logs_;
  std::vector<Route> sinks_;
};

}  // namespace fg::daemon
