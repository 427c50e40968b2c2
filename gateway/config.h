// The daemon's configuration file (TOML; documented in docs/config.md and
// the commented example config/flowgate.toml).
//
// Loading is strict: unknown keys, wrong types and impossible values are
// errors naming file:line:column and the key, and every error of the file is
// reported. `flowgate run` exits non-zero on any of them before it touches
// the kernel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/core/engine.h"
#include "gateway/mqtt/sink_config.h"

namespace fg::cli {

struct Config {
  std::string path;  // the file it was read from

  // [gateway]
  uint16_t queue_num = 0;        // first NFQUEUE number
  uint32_t workers = 1;          // one queue and one thread each
  uint16_t packet_budget = 32;
  bool fail_open = true;         // shorthand for failure.queue_full and failure.not_running
  std::vector<std::string> interfaces;  // inspect packets arriving here; empty = all
  std::string log_level = "info";
  bool skip_bare_tcp = true;     // do not queue SYN-ACKs and bare ACKs
  uint32_t queue_max_len = 8192;
  uint32_t socket_buffer = 8u << 20;
  bool fast_path = true;         // false: every packet goes to userspace (benchmarks only)
  std::string user;              // after start-up, run as this user with CAP_NET_ADMIN only ("" = stay)

  // [failure]: what a packet gets when flowgate cannot decide it
  core::FailurePolicy failure;

  // [marks]
  core::MarkLayout marks;

  // [nft]
  std::string table = "flowgate";

  // [policy]
  std::vector<std::string> policy_paths = {"/etc/flowgate/policies"};

  // [apps] (the application catalog, docs/catalog.md); reloaded with the policy
  bool apps_enabled = true;
  std::string apps_shipped = "/usr/share/flowgate/apps";  // *.toml shipped with flowgate
  std::string apps_local = "/etc/flowgate/apps.d";        // the operator's *.toml (beat shipped)

  // [routing]
  uint32_t rule_priority = 10000;  // first `ip rule` priority flowgate uses
  bool keep_first_route = true;    // a flow keeps the route of its first packet (NAT-safe)

  // [flows]
  uint64_t max_flows = 1'000'000;  // per worker
  core::FlowTimeouts timeouts;

  // [hints] (first-packet decisions, docs/first-packet.md)
  core::HintsConfig hints;
  bool observe_dns = true;  // queue DNS answers of kernel-decided flows too

  // [control]
  std::string control_socket = "/run/flowgate/control.sock";
  std::string control_group;           // group owning the socket (mode 0660); "" = root's
  std::string metrics_listen;          // "127.0.0.1:9464" serves GET /metrics; "" = off

  // [accounting]
  uint32_t aggregate_interval = 60;    // seconds, aligned to the epoch
  bool aggregate_per_address = false;
  bool aggregate_per_rule = false;
  uint32_t conntrack_dump_interval = 10;  // seconds between counter dumps of long flows

  // [output]
  std::string events_file;             // JSON lines of events ("" = none); reopened on SIGUSR1
  std::vector<std::string> events_topics = {"flow", "flow_end", "aggregate"};
  std::vector<mqtt::SinkConfig> mqtt_sinks;  // [[output.mqtt]] (docs/mqtt.md)
  std::vector<std::string> local_networks;   // output.local_networks: the LAN side (netify records)
};

struct ConfigError {
  int line = 0, column = 0;
  std::string key, message;
};

struct ConfigLoad {
  Config config;
  std::vector<ConfigError> errors;  // empty = ok
};

ConfigLoad loadConfig(const std::string& path);
ConfigLoad parseConfig(std::string_view text, const std::string& name);
std::string formatConfigError(const std::string& file, const ConfigError& e);

}  // namespace fg::cli
