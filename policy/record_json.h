// Flow records and decisions as JSON, for `flowgate policy eval` and the
// tests: the one place the policy library meets JSON (policy.h and
// flow_facts.h stay free of it, like every core header).
#pragma once

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "policy/flow_facts.h"
#include "policy/policy.h"

namespace fg::policy {

// Reads one flow record object. Unknown fields are ignored (records grow);
// present fields with the wrong type or value are errors naming the field.
// An optional "pending" array (["classification","tls_server_hello"]) sets
// FlowFacts::pending, so users can replay provisional states. A boolean
// "name_verified" sets FlowFacts::name_check (absent: NameCheck::None).
Result<FlowFacts> factsFromRecord(const nlohmann::json& record);

// The decision as printed by `flowgate policy eval`: {"verdict","rule","mark",
// "mask","route":{name,table,fwmark}|null,"sets":[{set,address}],"log",
// "shadow_rules":[...],"final","exempt","generation"}. `policy` must be the
// snapshot that produced `d` (names are looked up in it).
nlohmann::json decisionToJson(const Decision& d, const PolicySet& policy);

}  // namespace fg::policy
