// Netify agent (netifyd) v5-style flow records from flowgate records
// (docs/netify.md, docs/netify-flow.schema.json).
//
// A pure function of one flowgate record (docs/flow-record.md) as flowgate
// emits it: a `flow` event (classify, or the daemon's decision with verdict,
// mark, in_interface, ...) becomes {"type":"flow", ...}; a `flow_end` event
// becomes {"type":"flow_purge","reason":..., ...}. The record is read
// defensively: a missing or mistyped field leaves the corresponding Netify key
// out; nothing here throws on bad input.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fg::output {

struct NetifyOptions {
  // CIDRs ("10.0.0.0/8", "fd00::/8"; a bare address is a /32 or /128) whose
  // addresses are "local". Entries that do not parse are ignored (check them
  // first with validNetifyCidr).
  std::vector<std::string> local_networks;
  // Interfaces on the LAN side (the agent's internal interfaces): a flow
  // whose in_interface is one of them has its source (the opener) local.
  std::vector<std::string> lan_interfaces;
  // Interfaces on the WAN side (the agent's external interfaces): a flow
  // whose in_interface is one of them has its source remote, unless
  // local_networks holds it.
  std::vector<std::string> wan_interfaces;
  // The reported `interface` when the record has no in_interface.
  std::string interface;
  // 5 (the agent's current format) or 4 (first_update_at, dhc_hit, flat
  // ct_id/ct_mark, the envelope's `established`).
  int version = 5;
  // The kernel's view when local_networks does not decide: true for the
  // host's own addresses, loopback and addresses on a connected LAN network
  // (gateway/daemon/netify_host.h). Unset: no fallback.
  std::function<bool(std::string_view ip)> on_lan;
  // The link-layer address of `ip` ("aa:bb:cc:dd:ee:ff") where the host knows
  // it (neighbour table, own interfaces). Unset or nullopt: 00:00:00:00:00:00.
  std::function<std::optional<std::string>(std::string_view ip)> mac_of;
  // nDPI's numeric protocol id for a protocol name (detected_protocol).
  // Unset or nullopt: 0, the agent's "Unknown".
  std::function<std::optional<uint32_t>(std::string_view name)> protocol_id;
};

// The agent's message types for one flow.
enum class NetifyType {
  Flow,         // first sight
  DpiComplete,  // classification final
  Stats,        // periodic counters (needs a NetifyInterval)
  Purge,        // the flow ended
};

// One flow_stats interval: what the flow moved since the previous one, in
// the flowgate record's directions (src = the opener).
struct NetifyInterval {
  uint64_t src_bytes = 0, dst_bytes = 0, src_packets = 0, dst_packets = 0;
};

// The Netify message of `type` for a flowgate `flow` or `flow_end` record
// (the record's event is not looked at). For Stats, `interval` gives the
// per-interval local_*/other_* and the record's counters the total_*.
// nullopt when the record is not an object (or Stats without an interval).
std::optional<nlohmann::ordered_json> netifyMessage(const nlohmann::json& flowgate_record, NetifyType type,
                                                    const NetifyOptions& options,
                                                    const NetifyInterval* interval = nullptr);

// The Netify envelope for `flowgate_record`; nullopt when the record is not a
// flow or flow_end record (e.g. aggregate, stats) or not an object.
std::optional<nlohmann::ordered_json> netifyRecord(const nlohmann::json& flowgate_record,
                                                   const NetifyOptions& options);

// The flow as the agent's `flow` message shows it at first sight: the
// record's identity and start (last_seen = first_seen), no detection yet
// (members named "Unknown"), no counters, no protocol details.
nlohmann::json netifyFirstSight(const nlohmann::json& flowgate_record);

// True when `cidr` is an address or address/prefix NetifyOptions accepts.
bool validNetifyCidr(std::string_view cidr);

// The flow digest: lower-case hex SHA-1 (40 characters) of `input`. Exposed
// for tests and for consumers that want to recompute it (docs/netify.md).
std::string netifySha1Hex(std::string_view input);

}  // namespace fg::output
