// The flow record: flowgate's JSON encoding of a flow (docs/flow-record.md,
// docs/flow-record.schema.json). One encoder serves `flowgate classify`, the
// inline daemon's events and the control socket.
//
// Every string that came off the wire (hostnames, user agents, ALPN, ...) is
// made valid UTF-8 before encoding: bytes that are not part of a valid UTF-8
// sequence, and control characters, become the literal text "\xNN".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gateway/core/flow.h"
#include "gateway/core/pipeline.h"
#include "policy/policy.h"

namespace fg::output {

inline constexpr int kRecordVersion = 1;

// The record of `flow` for `event` ("flow", "flow_end"), stamped `ts`; with
// `end_reason` when the flow has ended.
nlohmann::ordered_json flowRecord(const core::Flow& flow, std::string_view event, core::Timestamp ts,
                          std::optional<core::EndReason> end = std::nullopt);
// The `health` member of a flow record (docs/health.md): the figures seen,
// in microseconds; absent members were not seen.
nlohmann::ordered_json healthRecord(const core::HealthFigures& h);

// The `flow` event of the inline daemon: flowRecord(flow, "flow", ts) plus
// what the policy decided: verdict, rule (null for the default), mark (the
// conntrack mark bits flowgate set), route {name, table, fwmark} or null,
// shadow_rules, exempt, policy_generation, early (decided before the
// classification was final), in_interface / out_interface.
nlohmann::ordered_json decisionRecord(const core::Flow& flow, const policy::Decision& decision,
                                      const policy::PolicySet& policy, core::Timestamp ts,
                                      std::string_view in_interface, std::string_view out_interface);

// Summary counters of a pipeline run: {"event":"stats", ...}.
nlohmann::ordered_json statsRecord(const core::PipelineCounters& c, const core::FlowTableCounters& t,
                           core::Timestamp ts);

// One line of JSON (no trailing newline).
std::string encodeLine(const nlohmann::ordered_json& record);

// Valid UTF-8 for any input bytes (see above).
std::string safeString(std::string_view bytes);

double toSeconds(core::Timestamp ts);

}  // namespace fg::output
