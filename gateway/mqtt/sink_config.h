// Configuration of one MQTT output sink ([[output.mqtt]], docs/mqtt.md).
// Plain data: parsed by gateway/config.cc, used by gateway/mqtt/mqtt_sink.cc
// (the publisher) and the daemon (which events go to the sink, and in which
// format). No libmosquitto headers here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fg::mqtt {

struct SinkConfig {
  std::string name;                 // for logs, status and metrics ("mqtt0", ...)
  std::string host = "127.0.0.1";
  uint16_t port = 1883;             // 8883 is usual with TLS
  std::string client_id;            // "" = "flowgate-<hostname>-<name>"
  std::string username, password;   // "" = none
  // TLS: on when ca_file (or ca_path) is set; cert_file/key_file for a
  // client certificate.
  std::string ca_file, ca_path, cert_file, key_file;
  // {hostname} (the gateway's), {event} (flow, flow_end, aggregate),
  // {application} (the flow's; an aggregate row's by application, else ""),
  // {name} (this sink's).
  std::string topic = "flowgate/{hostname}/{event}";
  int qos = 0;                      // 0 or 1
  bool retain = false;
  int keepalive_s = 30;
  // Which events, and which of them (empty = all).
  std::vector<std::string> events = {"flow", "flow_end", "aggregate"};
  std::vector<std::string> applications;  // case-insensitive
  std::vector<std::string> verdicts;      // "accept", "drop", "reject"
  std::vector<std::string> rules;
  std::string format = "flowgate";  // or "netify" (flow and flow_end only)
  // Backpressure: at most queue_events wait in memory; beyond that events go
  // to the spool file when one is set (and keep going there until it is
  // replayed, to keep the order), at most spool_max_bytes (freed only when
  // the spool has been replayed completely); whatever does not fit is
  // dropped and counted.
  uint32_t queue_events = 10'000;
  std::string spool_file;           // "" = no spool: drop when the queue is full
  uint64_t spool_max_bytes = 64ull << 20;
  uint32_t max_inflight = 100;      // published, not yet acknowledged (QoS 1) / written (QoS 0)
  // Reconnect delays: libmosquitto's growing backoff (reconnect_min x n^2 for
  // the n-th attempt, capped at reconnect_max).
  uint32_t reconnect_min_s = 1, reconnect_max_s = 30;
};

}  // namespace fg::mqtt
