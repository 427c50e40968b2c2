#include "gateway/config.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "common/log.h"
#include "gateway/output/netify.h"

#include <toml++/toml.h>

namespace fg::cli {
namespace {

class Reader {
 public:
  explicit Reader(std::vector<ConfigError>& errors) : errors_(errors) {}

  void error(const toml::node* n, std::string key, std::string msg) {
    ConfigError e;
    if (n) {
      e.line = static_cast<int>(n->source().begin.line);
      e.column = static_cast<int>(n->source().begin.column);
    }
    e.key = std::move(key);
    e.message = std::move(msg);
    errors_.push_back(std::move(e));
  }

  // Reports keys of `t` not in `known`.
  void unknownKeys(const toml::table& t, const std::string& prefix, std::set<std::string> known) {
    for (const auto& [k, v] : t) {
      if (known.count(std::string(k.str()))) continue;
      // Point at the key itself (the typo), not at its value.
      ConfigError e{.line = static_cast<int>(k.source().begin.line),
                    .column = static_cast<int>(k.source().begin.column),
                    .key = prefix + std::string(k.str()),
                    .message = "unknown key"};
      if (e.line == 0) {
        e.line = static_cast<int>(v.source().begin.line);
        e.column = static_cast<int>(v.source().begin.column);
      }
      errors_.push_back(std::move(e));
    }
  }

  template <typename T>
  void integer(const toml::table& t, const std::string& prefix, const char* key, T& out,
               int64_t min, int64_t max) {
    const toml::node* n = t.get(key);
    if (!n) return;
    auto v = n->value_exact<int64_t>();
    if (!v) return error(n, prefix + key, "expected an integer");
    if (*v < min || *v > max)
      return error(n, prefix + key,
                   "expected a value from " + std::to_string(min) + " to " + std::to_string(max));
    out = static_cast<T>(*v);
  }
  // A value of exactly type T, else the error `expected`.
  template <typename T>
  void exact(const toml::table& t, const std::string& prefix, const char* key, T& out, const char* expected) {
    const toml::node* n = t.get(key);
    if (!n) return;
    auto v = n->value_exact<T>();
    if (!v) return error(n, prefix + key, expected);
    out = *v;
  }
  void boolean(const toml::table& t, const std::string& prefix, const char* key, bool& out) {
    exact(t, prefix, key, out, "expected true or false");
  }
  void string(const toml::table& t, const std::string& prefix, const char* key, std::string& out) {
    exact(t, prefix, key, out, "expected a string");
  }
  void failureAction(const toml::table& t, const std::string& prefix, const char* key, core::FailureAction& out) {
    const toml::node* n = t.get(key);
    if (!n) return;
    auto v = n->value_exact<std::string>();
    if (v && *v == "accept") out = core::FailureAction::Accept;
    else if (v && *v == "drop") out = core::FailureAction::Drop;
    else error(n, prefix + key, "expected \"accept\" or \"drop\"");
  }
  void strings(const toml::table& t, const std::string& prefix, const char* key,
               std::vector<std::string>& out) {
    const toml::node* n = t.get(key);
    if (!n) return;
    if (auto s = n->value_exact<std::string>()) {
      out = {*s};
      return;
    }
    const toml::array* a = n->as_array();
    if (!a) return error(n, prefix + key, "expected a string or a list of strings");
    out.clear();
    for (const auto& e : *a) {
      auto s = e.value_exact<std::string>();
      if (!s) return error(&e, prefix + key, "expected a list of strings");
      out.push_back(*s);
    }
  }
  void seconds(const toml::table& t, const std::string& prefix, const char* key, core::Timestamp& out) {
    int64_t s = out / core::kSecond;
    integer(t, prefix, key, s, 1, 7 * 24 * 3600);
    out = s * core::kSecond;
  }

  const toml::table* section(const toml::table& root, const char* name) {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) {
      error(n, name, "expected a table [" + std::string(name) + "]");
      return nullptr;
    }
    return n->as_table();
  }

 private:
  std::vector<ConfigError>& errors_;
};

void parseMqttSink(Reader& r, const toml::table& t, size_t index, std::vector<mqtt::SinkConfig>& out) {
  const std::string p = "output.mqtt[" + std::to_string(index) + "].";
  mqtt::SinkConfig s;
  s.name = "mqtt" + std::to_string(index);
  r.unknownKeys(t, p, {"name", "host", "port", "client_id", "username", "password", "ca_file", "ca_path",
                       "cert_file", "key_file", "topic", "qos", "retain", "keepalive", "events", "applications",
                       "verdicts", "rules", "format", "queue_events", "spool_file", "spool_max_bytes",
                       "max_inflight", "reconnect_min", "reconnect_max"});
  r.string(t, p, "name", s.name);
  r.string(t, p, "host", s.host);
  if (s.host.empty()) r.error(t.get("host"), p + "host", "expected the broker's host name or address");
  r.integer(t, p, "port", s.port, 1, 65535);
  r.string(t, p, "client_id", s.client_id);
  r.string(t, p, "username", s.username);
  r.string(t, p, "password", s.password);
  if (!s.password.empty() && s.username.empty())
    r.error(t.get("password"), p + "password", "a password needs a username");
  r.string(t, p, "ca_file", s.ca_file);
  r.string(t, p, "ca_path", s.ca_path);
  r.string(t, p, "cert_file", s.cert_file);
  r.string(t, p, "key_file", s.key_file);
  if (s.cert_file.empty() != s.key_file.empty())
    r.error(t.get(s.cert_file.empty() ? "key_file" : "cert_file"), p + "cert_file",
            "a client certificate needs both cert_file and key_file");
  if (!s.cert_file.empty() && s.ca_file.empty() && s.ca_path.empty())
    r.error(t.get("cert_file"), p + "cert_file", "a client certificate needs TLS: set ca_file or ca_path");
  r.string(t, p, "topic", s.topic);
  const bool control_chars = std::any_of(s.topic.begin(), s.topic.end(),
                                         [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; });
  if (s.topic.empty() || s.topic.find_first_of("+#") != std::string::npos || control_chars ||
      s.topic.size() > 1024 || s.topic[0] == '$')
    r.error(t.get("topic"), p + "topic",
            "expected a topic of printable characters without MQTT wildcards (+, #), not starting with $");
  r.integer(t, p, "qos", s.qos, 0, 1);
  r.boolean(t, p, "retain", s.retain);
  r.integer(t, p, "keepalive", s.keepalive_s, 5, 3600);
  r.strings(t, p, "events", s.events);
  for (const auto& e : s.events)
    if (e != "flow" && e != "flow_end" && e != "aggregate")
      r.error(t.get("events"), p + "events", "unknown event '" + e + "' (flow, flow_end, aggregate)");
  r.strings(t, p, "applications", s.applications);
  r.strings(t, p, "verdicts", s.verdicts);
  for (const auto& v : s.verdicts)
    if (v != "accept" && v != "drop" && v != "reject")
      r.error(t.get("verdicts"), p + "verdicts", "unknown verdict '" + v + "' (accept, drop, reject)");
  r.strings(t, p, "rules", s.rules);
  r.string(t, p, "format", s.format);
  if (s.format != "flowgate" && s.format != "netify")
    r.error(t.get("format"), p + "format", "expected \"flowgate\" or \"netify\"");
  else if (s.format == "netify" &&
           std::none_of(s.events.begin(), s.events.end(), [](const std::string& e) { return e != "aggregate"; }))
    r.error(t.get("events"), p + "events", "a netify sink sends flow and flow_end events only; list one of them");
  r.integer(t, p, "queue_events", s.queue_events, 1, 10'000'000);
  r.string(t, p, "spool_file", s.spool_file);
  if (!s.spool_file.empty() && s.spool_file[0] != '/')
    r.error(t.get("spool_file"), p + "spool_file", "expected an absolute path");
  r.integer(t, p, "spool_max_bytes", s.spool_max_bytes, 4096, int64_t{1} << 40);
  r.integer(t, p, "max_inflight", s.max_inflight, 1, 65535);
  r.integer(t, p, "reconnect_min", s.reconnect_min_s, 1, 3600);
  r.integer(t, p, "reconnect_max", s.reconnect_max_s, 1, 3600);
  if (s.reconnect_min_s > s.reconnect_max_s)
    r.error(t.get("reconnect_min"), p + "reconnect_min", "must not exceed reconnect_max");
  for (const auto& other : out) {
    if (other.name == s.name) r.error(t.get("name"), p + "name", "another sink has the name '" + s.name + "'");
    if (!s.spool_file.empty() && other.spool_file == s.spool_file)
      r.error(t.get("spool_file"), p + "spool_file", "sink '" + other.name + "' spools to the same file");
    if (!s.client_id.empty() && other.client_id == s.client_id && other.host == s.host && other.port == s.port)
      r.error(t.get("client_id"), p + "client_id",
              "sink '" + other.name + "' uses the same client_id on the same broker (they would kick each other off)");
  }
  out.push_back(std::move(s));
}

}  // namespace

ConfigLoad parseConfig(std::string_view text, const std::string& name) {
  ConfigLoad out;
  out.config.path = name;
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    out.errors.push_back({static_cast<int>(e.source().begin.line),
                          static_cast<int>(e.source().begin.column), "",
                          std::string(e.description())});
    return out;
  }
  Reader r(out.errors);
  Config& c = out.config;
  r.unknownKeys(root, "", {"gateway", "failure", "marks", "nft", "policy", "apps", "routing", "flows", "hints",
                           "control", "accounting", "output"});

  if (const toml::table* g = r.section(root, "gateway")) {
    const std::string p = "gateway.";
    r.unknownKeys(*g, p, {"queue_num", "workers", "packet_budget", "fail_open", "interfaces",
                          "log_level", "skip_bare_tcp", "queue_max_len", "socket_buffer", "fast_path", "user"});
    r.integer(*g, p, "queue_num", c.queue_num, 0, 65535);
    r.integer(*g, p, "workers", c.workers, 1, 64);
    r.integer(*g, p, "packet_budget", c.packet_budget, 1, 1000);
    r.boolean(*g, p, "fail_open", c.fail_open);
    r.strings(*g, p, "interfaces", c.interfaces);
    for (const auto& i : c.interfaces)
      if (i.empty() || i.size() > 15)
        r.error(g->get("interfaces"), p + "interfaces", "interface names have 1 to 15 characters: '" + i + "'");
    r.string(*g, p, "log_level", c.log_level);
    log::Level lvl;
    if (!log::parseLevel(c.log_level, lvl))
      r.error(g->get("log_level"), p + "log_level", "expected debug, info, warn or error");
    r.boolean(*g, p, "skip_bare_tcp", c.skip_bare_tcp);
    r.integer(*g, p, "queue_max_len", c.queue_max_len, 16, 1 << 20);
    r.integer(*g, p, "socket_buffer", c.socket_buffer, 1 << 16, 1 << 30);
    r.boolean(*g, p, "fast_path", c.fast_path);
    r.string(*g, p, "user", c.user);
    if (static_cast<uint32_t>(c.queue_num) + c.workers > 65536)
      r.error(g->get("workers"), p + "workers", "queue_num + workers must stay below 65536");
  }
  // gateway.fail_open is the shorthand for the two kernel-side conditions;
  // [failure] sets each condition on its own and wins.
  const auto kernel_side = c.fail_open ? core::FailureAction::Accept : core::FailureAction::Drop;
  c.failure.queue_full = c.failure.not_running = kernel_side;
  if (const toml::table* f = r.section(root, "failure")) {
    const std::string p = "failure.";
    r.unknownKeys(*f, p, {"queue_full", "not_running", "undecodable", "internal_error"});
    r.failureAction(*f, p, "queue_full", c.failure.queue_full);
    r.failureAction(*f, p, "not_running", c.failure.not_running);
    r.failureAction(*f, p, "undecodable", c.failure.undecodable);
    r.failureAction(*f, p, "internal_error", c.failure.internal_error);
  }
  if (const toml::table* m = r.section(root, "marks")) {
    const std::string p = "marks.";
    r.unknownKeys(*m, p, {"decided", "drop", "reject", "value_mask"});
    r.integer(*m, p, "decided", c.marks.decided, 1, 0xffffffffLL);
    r.integer(*m, p, "drop", c.marks.drop, 1, 0xffffffffLL);
    r.integer(*m, p, "reject", c.marks.reject, 1, 0xffffffffLL);
    r.integer(*m, p, "value_mask", c.marks.value_mask, 0, 0xffffffffLL);
    if (std::string why = c.marks.validate(); !why.empty()) r.error(m, "marks", why);
  }
  if (const toml::table* n = r.section(root, "nft")) {
    r.unknownKeys(*n, "nft.", {"table"});
    r.string(*n, "nft.", "table", c.table);
    bool ok = !c.table.empty() && c.table.size() <= 64;
    for (char ch : c.table) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-');
    if (!ok) r.error(n->get("table"), "nft.table", "expected 1-64 letters, digits, '_' or '-'");
  }
  if (const toml::table* pl = r.section(root, "policy")) {
    r.unknownKeys(*pl, "policy.", {"path"});
    r.strings(*pl, "policy.", "path", c.policy_paths);
    if (c.policy_paths.empty()) r.error(pl->get("path"), "policy.path", "expected at least one path");
  }
  if (const toml::table* ap = r.section(root, "apps")) {
    r.unknownKeys(*ap, "apps.", {"enabled", "shipped", "local"});
    r.boolean(*ap, "apps.", "enabled", c.apps_enabled);
    r.string(*ap, "apps.", "shipped", c.apps_shipped);
    r.string(*ap, "apps.", "local", c.apps_local);
  }
  if (const toml::table* rt = r.section(root, "routing")) {
    r.unknownKeys(*rt, "routing.", {"rule_priority", "keep_first_route"});
    r.integer(*rt, "routing.", "rule_priority", c.rule_priority, 1, 32000);
    r.boolean(*rt, "routing.", "keep_first_route", c.keep_first_route);
  }
  if (const toml::table* f = r.section(root, "flows")) {
    const std::string p = "flows.";
    r.unknownKeys(*f, p, {"max_flows", "tcp_opening_timeout", "tcp_established_timeout",
                          "tcp_closed_timeout", "udp_timeout", "other_timeout",
                          "decided_timeout"});
    r.integer(*f, p, "max_flows", c.max_flows, 1000, 100'000'000);
    r.seconds(*f, p, "tcp_opening_timeout", c.timeouts.tcp_opening);
    r.seconds(*f, p, "tcp_established_timeout", c.timeouts.tcp_established);
    r.seconds(*f, p, "tcp_closed_timeout", c.timeouts.tcp_closed);
    r.seconds(*f, p, "udp_timeout", c.timeouts.udp);
    r.seconds(*f, p, "other_timeout", c.timeouts.other);
    r.seconds(*f, p, "decided_timeout", c.timeouts.decided);
  }
  if (const toml::table* h = r.section(root, "hints")) {
    const std::string p = "hints.";
    r.unknownKeys(*h, p, {"enabled", "dns_entries", "min_ttl", "max_ttl", "learned_entries",
                          "learned_ttl", "observe_dns"});
    r.boolean(*h, p, "enabled", c.hints.enabled);
    // Bounded so that `flowgatectl hint` (a scan under the lock the workers
    // share) stays in the milliseconds.
    r.integer(*h, p, "dns_entries", c.hints.dns.max_entries, 0, 1'000'000);
    r.integer(*h, p, "min_ttl", c.hints.dns.min_ttl_s, 0, 604'800);
    r.integer(*h, p, "max_ttl", c.hints.dns.max_ttl_s, 1, 604'800);
    if (c.hints.dns.min_ttl_s > c.hints.dns.max_ttl_s)
      r.error(h->get("min_ttl"), "hints.min_ttl", "must not exceed hints.max_ttl");
    r.integer(*h, p, "learned_entries", c.hints.learned_entries, 0, 1'000'000);
    r.integer(*h, p, "learned_ttl", c.hints.learned_ttl_s, 1, 604'800);
    r.boolean(*h, p, "observe_dns", c.observe_dns);
  }
  if (const toml::table* ct = r.section(root, "control")) {
    r.unknownKeys(*ct, "control.", {"socket", "group", "metrics_listen"});
    r.string(*ct, "control.", "socket", c.control_socket);
    if (c.control_socket.empty() || c.control_socket.size() >= 108 || c.control_socket[0] != '/')
      r.error(ct->get("socket"), "control.socket", "expected an absolute path shorter than 108 bytes");
    r.string(*ct, "control.", "group", c.control_group);
    r.string(*ct, "control.", "metrics_listen", c.metrics_listen);
    if (!c.metrics_listen.empty()) {
      const auto colon = c.metrics_listen.rfind(':');
      bool ok = colon != std::string::npos && colon > 0 && colon + 1 < c.metrics_listen.size();
      for (size_t i = colon + 1; ok && i < c.metrics_listen.size(); ++i)
        ok = std::isdigit(static_cast<unsigned char>(c.metrics_listen[i]));
      if (!ok) r.error(ct->get("metrics_listen"), "control.metrics_listen", "expected ADDRESS:PORT, e.g. \"127.0.0.1:9464\"");
    }
  }
  if (const toml::table* a = r.section(root, "accounting")) {
    const std::string p = "accounting.";
    r.unknownKeys(*a, p, {"interval", "per_address", "per_rule", "conntrack_dump_interval"});
    r.integer(*a, p, "interval", c.aggregate_interval, 1, 86400);
    r.boolean(*a, p, "per_address", c.aggregate_per_address);
    r.boolean(*a, p, "per_rule", c.aggregate_per_rule);
    r.integer(*a, p, "conntrack_dump_interval", c.conntrack_dump_interval, 1, 3600);
  }
  if (const toml::table* o = r.section(root, "output")) {
    r.unknownKeys(*o, "output.", {"events_file", "events", "mqtt", "local_networks"});
    r.string(*o, "output.", "events_file", c.events_file);
    r.strings(*o, "output.", "events", c.events_topics);
    for (const auto& t : c.events_topics)
      if (t != "flow" && t != "flow_end" && t != "aggregate" && t != "log")
        r.error(o->get("events"), "output.events", "unknown topic '" + t + "' (flow, flow_end, aggregate, log)");
    r.strings(*o, "output.", "local_networks", c.local_networks);
    for (const auto& n : c.local_networks)
      if (!output::validNetifyCidr(n))
        r.error(o->get("local_networks"), "output.local_networks", "'" + n + "' is not an address or CIDR");
    if (const toml::node* m = o->get("mqtt")) {
      const toml::array* sinks = m->as_array();
      if (!sinks || !sinks->is_array_of_tables()) {
        r.error(m, "output.mqtt", "expected [[output.mqtt]] tables");
      } else {
        for (size_t i = 0; i < sinks->size(); ++i) parseMqttSink(r, *sinks->get(i)->as_table(), i, c.mqtt_sinks);
      }
    }
  }
  return out;
}

ConfigLoad loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    ConfigLoad out;
    out.config.path = path;
    out.errors.push_back({0, 0, "", "cannot read the file"});
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parseConfig(ss.str(), path);
}

std::string formatConfigError(const std::string& file, const ConfigError& e) {
  std::string s = file;
  if (e.line) s += ":" + std::to_string(e.line) + ":" + std::to_string(e.column);
  s += ": ";
  if (!e.key.empty()) s += e.key + ": ";
  return s + e.message;
}

}  // namespace fg::cli
