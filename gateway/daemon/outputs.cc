#include "gateway/daemon/outputs.h"

#include <unistd.h>

#include <algorithm>

#include "common/ascii.h"
#include "common/log.h"

namespace fg::daemon {
namespace {

bool listed(const std::vector<std::string>& list, std::string_view v, bool fold_case) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& x) { return fold_case ? iequalsAscii(x, v) : x == v; });
}

std::string gatewayHostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "flowgate";
  return buf;
}

}  // namespace

bool sinkWants(const mqtt::SinkConfig& s, const ctl::Event& e) {
  if (e.topic == ctl::Topic::Log) return false;
  if (!listed(s.events, ctl::toString(e.topic), false)) return false;
  if (e.topic == ctl::Topic::Aggregate)
    return s.applications.empty() || listed(s.applications, e.application, true);
  if (!s.applications.empty() && !listed(s.applications, e.application, true)) return false;
  if (!s.verdicts.empty() && !listed(s.verdicts, e.verdict, false)) return false;
  if (!s.rules.empty() && !listed(s.rules, e.rule, false)) return false;
  return true;
}

std::optional<std::string> sinkPayload(const mqtt::SinkConfig& s, const ctl::Event& e,
                                       const output::NetifyOptions& netify) {
  if (s.format != "netify") return e.json;
  return netifyPayload(e, netify);
}

namespace {

std::string dumpMessage(const nlohmann::ordered_json& m) {
  return m.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// A flow_stats record's interval (Accounting::stats()) as the Netify form wants it.
std::optional<output::NetifyInterval> intervalOf(const nlohmann::json& record) {
  auto it = record.find("interval");
  if (it == record.end() || !it->is_object()) return std::nullopt;
  output::NetifyInterval i;
  auto get = [&](const char* key, uint64_t& out) {
    auto v = it->find(key);
    if (v != it->end() && v->is_number_unsigned()) out = v->get<uint64_t>();
  };
  get("src_bytes", i.src_bytes);
  get("dst_bytes", i.dst_bytes);
  get("src_packets", i.src_packets);
  get("dst_packets", i.dst_packets);
  return i;
}

}  // namespace

std::optional<std::string> netifyPayload(const ctl::Event& e, const output::NetifyOptions& netify) {
  if (e.topic != ctl::Topic::Flow && e.topic != ctl::Topic::FlowEnd && e.topic != ctl::Topic::FlowStats)
    return std::nullopt;
  const auto record = nlohmann::json::parse(e.json, nullptr, false);
  if (record.is_discarded()) return std::nullopt;
  std::optional<nlohmann::ordered_json> n;
  if (e.topic == ctl::Topic::FlowStats) {
    const auto interval = intervalOf(record);
    if (!interval) return std::nullopt;
    n = output::netifyMessage(record, output::NetifyType::Stats, netify, &*interval);
  } else {
    n = output::netifyRecord(record, netify);
  }
  if (!n) return std::nullopt;
  return dumpMessage(*n);
}

std::vector<std::string> netifyMessages(const ctl::Event& e, const output::NetifyOptions& netify) {
  std::vector<std::string> out;
  const auto record = nlohmann::json::parse(e.json, nullptr, false);
  if (record.is_discarded() || !record.is_object()) return out;
  switch (e.topic) {
    case ctl::Topic::Flow:
      if (auto m = output::netifyMessage(output::netifyFirstSight(record), output::NetifyType::Flow, netify))
        out.push_back(dumpMessage(*m));
      if (auto m = output::netifyMessage(record, output::NetifyType::DpiComplete, netify))
        out.push_back(dumpMessage(*m));
      break;
    case ctl::Topic::FlowStats:
      if (auto i = intervalOf(record))
        if (auto m = output::netifyMessage(record, output::NetifyType::Stats, netify, &*i))
          out.push_back(dumpMessage(*m));
      break;
    case ctl::Topic::FlowEnd:
      if (auto m = output::netifyMessage(record, output::NetifyType::Purge, netify)) out.push_back(dumpMessage(*m));
      break;
    default: break;
  }
  return out;
}

std::string netifyAgentHello(int netify_version) {
  // The agent's greeting names the agent and the JSON format it writes.
  nlohmann::ordered_json m{{"type", "agent_hello"},
                           {"agent_version", FLOWGATE_VERSION},
                           {"build_version", std::string("flowgate/") + FLOWGATE_VERSION + " (Netify v" +
                                                 std::to_string(netify_version) + " compatible)"},
                           {"json_version", netify_version == 4 ? 1.9 : 5.0}};
  return dumpMessage(m);
}

std::string netifyAgentStatus(const AgentFacts& f) {
  nlohmann::ordered_json m{{"type", "agent_status"},
                           {"agent_version", FLOWGATE_VERSION},
                           {"build_version", std::string("flowgate/") + FLOWGATE_VERSION},
                           {"timestamp", f.now_ms / 1000},
                           {"uptime", f.uptime_s},
                           {"update_interval", f.update_interval_s},
                           {"update_imf", 1},
                           {"cpu_cores", f.cpu_cores},
                           {"cpu_user", f.cpu_user},
                           {"cpu_user_prev", f.cpu_user_prev},
                           {"cpu_system", f.cpu_system},
                           {"cpu_system_prev", f.cpu_system_prev},
                           {"maxrss_kb", f.maxrss_kb},
                           {"maxrss_kb_prev", f.maxrss_kb_prev},
                           {"memrss_kb", f.memrss_kb},
                           {"memrss_kb_prev", f.memrss_kb_prev},
                           {"flow_count", f.flows},
                           {"flow_count_prev", f.flows_prev},
                           {"flows_active", f.flows},
                           {"flows_in_use", f.flows},
                           {"flows_purged", f.flows_purged},
                           {"flows_expiring", 0},
                           {"flows_expired", 0},
                           {"dhc_status", f.dhc_status},
                           {"fhc_status", false}};
  return dumpMessage(m);
}

Outputs::Outputs(std::vector<mqtt::SinkConfig> sinks, output::NetifyOptions netify)
    : configs_(std::move(sinks)), netify_(std::move(netify)) {}

Outputs::~Outputs() { stop(0); }

Result<void> Outputs::start() {
  const std::string host = gatewayHostname();
  for (const auto& c : configs_) {
    auto s = mqtt::MqttSink::start(c, host);
    if (!s) return makeError(s.error().message());
    log::info("mqtt_sink_started", {{"sink", c.name},
                                    {"broker", c.host + ":" + std::to_string(c.port)},
                                    {"topic", c.topic},
                                    {"format", c.format},
                                    {"qos", c.qos},
                                    {"tls", !c.ca_file.empty() || !c.ca_path.empty()},
                                    {"spool", c.spool_file.empty() ? std::string("off") : c.spool_file}});
    sinks_.push_back(std::move(*s));
  }
  return {};
}

void Outputs::emit(const ctl::Event& e) {
  // The Netify form is made once per event, for the first sink that wants it.
  std::optional<std::optional<std::string>> netify;
  for (auto& s : sinks_) {
    const mqtt::SinkConfig& c = s->config();
    if (!sinkWants(c, e)) continue;
    if (c.format != "netify") {
      s->offer(ctl::toString(e.topic), e.application, e.json);
      continue;
    }
    if (!netify) netify = netifyPayload(e, netify_);
    if (*netify) s->offer(ctl::toString(e.topic), e.application, **netify);
  }
}

void Outputs::stop(int drain_ms) {
  for (auto& s : sinks_) {
    s->stop(drain_ms);
    const mqtt::SinkCounters c = s->counters();
    log::info("mqtt_sink_stopped", {{"sink", s->config().name},
                                    {"produced", c.produced},
                                    {"delivered", c.delivered},
                                    {"dropped", c.dropped},
                                    {"spooled", c.spooled},
                                    {"spool_waiting", c.spool_waiting}});
  }
  sinks_.clear();
}

nlohmann::json Outputs::status() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : sinks_) {
    const mqtt::SinkConfig& cfg = s->config();
    const mqtt::SinkCounters c = s->counters();
    list.push_back({{"name", cfg.name},
                    {"broker", cfg.host + ":" + std::to_string(cfg.port)},
                    {"format", cfg.format},
                    {"connected", c.connected},
                    {"produced", c.produced},
                    {"delivered", c.delivered},
                    {"dropped", c.dropped},
                    {"spooled", c.spooled},
                    {"queued", c.queued},
                    {"spool_waiting", c.spool_waiting},
                    {"spool_bytes", c.spool_bytes},
                    {"inflight", c.inflight},
                    {"connects", c.connects},
                    {"disconnects", c.disconnects},
                    {"publish_errors", c.publish_errors}});
  }
  return nlohmann::json{{"mqtt", std::move(list)}};
}

void Outputs::appendMetrics(ctl::Exposition& out) const {
  if (sinks_.empty()) return;
  std::vector<std::pair<std::string, mqtt::SinkCounters>> all;
  for (const auto& s : sinks_) all.emplace_back(s->config().name, s->counters());
  auto family = [&](const char* name, ctl::MetricType type, const char* help, auto value) {
    out.family(name, type, help);
    for (const auto& [sink, c] : all) out.sample(static_cast<double>(value(c)), {{"sink", sink}});
  };
  family("flowgate_mqtt_connected", ctl::MetricType::Gauge, "1 while the sink is connected to its broker",
         [](const mqtt::SinkCounters& c) { return c.connected ? 1 : 0; });
  family("flowgate_mqtt_produced_total", ctl::MetricType::Counter, "Events offered to the sink",
         [](const mqtt::SinkCounters& c) { return c.produced; });
  family("flowgate_mqtt_delivered_total", ctl::MetricType::Counter,
         "Events the broker acknowledged (QoS 1) or that were written to it (QoS 0)",
         [](const mqtt::SinkCounters& c) { return c.delivered; });
  family("flowgate_mqtt_dropped_total", ctl::MetricType::Counter, "Events dropped (queue and spool full, or stop)",
         [](const mqtt::SinkCounters& c) { return c.dropped; });
  family("flowgate_mqtt_spooled_total", ctl::MetricType::Counter, "Events written to the spool file",
         [](const mqtt::SinkCounters& c) { return c.spooled; });
  family("flowgate_mqtt_waiting", ctl::MetricType::Gauge, "Events waiting (memory queue, spool, in flight)",
         [](const mqtt::SinkCounters& c) { return c.queued + c.spool_waiting + c.inflight; });
  family("flowgate_mqtt_publish_errors_total", ctl::MetricType::Counter,
         "Publishes libmosquitto refused (requeued after a lost connection, else dropped)",
         [](const mqtt::SinkCounters& c) { return c.publish_errors; });
}

}  // namespace fg::daemon
