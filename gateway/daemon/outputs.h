// Outputs: the daemon's event sinks besides the control socket and the
// events file -- today the MQTT sinks ([[output.mqtt]], docs/mqtt.md).
//
// What it does: for every event the daemon publishes (control thread),
// decides per sink whether it wants it (event kind, applications, verdicts,
// rules), encodes it in the sink's format (flowgate's record as is, or the
// Netify-style record, docs/netify.md) and offers it to the sink, which
// never blocks. Reports status and metrics per sink.
// What it must never do: block the control thread, or let one sink's
// trouble affect another (each has its own queue and connection).
// Threading: emit(), status() and appendMetrics() on the control thread;
// start() before the workers run, stop() after the control thread ended.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "gateway/control/handler.h"
#include "gateway/control/metrics.h"
#include "gateway/mqtt/mqtt_sink.h"
#include "gateway/output/netify.h"

namespace fg::daemon {

// Whether `sink` wants `event`: its kind is listed, and for flow/flow_end
// events, each non-empty filter list holds the event's application
// (case-insensitive), verdict and rule. Aggregates pass the applications
// filter by their application (rows by address or rule have none: they pass
// only when no applications are listed); log events never go to a sink.
bool sinkWants(const mqtt::SinkConfig& sink, const ctl::Event& event);

// The Netify form of an event's record (nullopt when it has none: aggregates,
// log lines, anything unparsable).
std::optional<std::string> netifyPayload(const ctl::Event& event, const output::NetifyOptions& netify);

// The Netify agent's messages for an event, in the order the agent sends
// them: a decision (`flow` event) becomes `flow` (the flow as first seen)
// and `flow_dpi_complete` (classification final); `flow_stats` becomes
// `flow_stats` (the interval's counters and the totals); `flow_end` becomes
// `flow_purge`. Nothing for other topics or unparsable records.
std::vector<std::string> netifyMessages(const ctl::Event& event, const output::NetifyOptions& netify);

// What the agent's greeting and status messages report (docs/netify.md).
struct AgentFacts {
  int64_t now_ms = 0;
  int64_t uptime_s = 0;
  uint32_t update_interval_s = 15;
  uint64_t flows = 0, flows_prev = 0;       // tracked flows now and at the previous status
  uint64_t flows_purged = 0;                // flow_end since start
  double cpu_user = 0, cpu_user_prev = 0, cpu_system = 0, cpu_system_prev = 0;  // seconds
  uint64_t maxrss_kb = 0, maxrss_kb_prev = 0, memrss_kb = 0, memrss_kb_prev = 0;
  unsigned cpu_cores = 1;
  bool dhc_status = false;                  // the DNS hint cache is on
};
std::string netifyAgentHello(int netify_version);
std::string netifyAgentStatus(const AgentFacts& facts);

// The payload for `sink`: the record as is, or its Netify form (nullopt when
// the event has none, e.g. an aggregate for a netify sink).
std::optional<std::string> sinkPayload(const mqtt::SinkConfig& sink, const ctl::Event& event,
                                       const output::NetifyOptions& netify);

class Outputs {
 public:
  Outputs(std::vector<mqtt::SinkConfig> sinks, output::NetifyOptions netify);
  ~Outputs();
  // Starts every sink (a broker that is down is not an error: it is retried).
  Result<void> start();
  void emit(const ctl::Event& event);
  void stop(int drain_ms);
  nlohmann::json status() const;
  void appendMetrics(ctl::Exposition& out) const;

 private:
  std::vector<mqtt::SinkConfig> configs_;
  output::NetifyOptions netify_;
  std::vector<std::unique_ptr<mqtt::MqttSink>> sinks_;
};

}  // namespace fg::daemon
