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
  // Interfaces on the LAN side: a flow whose in_interface is one of them has
  // its source (the opener) local, unless local_networks decided.
  std::vector<std::string> lan_interfaces;
  // The reported `interface` when the record has no in_interface.
  std::string interface;
};

// The Netify envelope for `flowgate_record`; nullopt when the record is not a
// flow or flow_end record (e.g. aggregate, stats) or not an object.
std::optional<nlohmann::ordered_json> netifyRecord(const nlohmann::json& flowgate_record,
                                                   const NetifyOptions& options);

// True when `cidr` is an address or address/prefix NetifyOptions accepts.
bool validNetifyCidr(std::string_view cidr);

// The flow digest: lower-case hex SHA-1 (40 characters) of `input`. Exposed
// for tests and for consumers that want to recompute it (docs/netify.md).
std::string netifySha1Hex(std::string_view input);

}  // namespace fg::output
