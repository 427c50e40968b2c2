// The contract between the control socket (gateway/control, Boost.Asio) and
// the daemon that owns the workers (gateway/cmd_run.cc).
//
// The control server parses requests and manages clients and subscriptions;
// it never touches workers, policies or the kernel itself. It calls a
// ControlHandler on the control thread for everything it needs to know or
// do. Answers that need the workers (the flow list) are asynchronous: the
// handler calls `done` later (still on the control thread, via the io
// context), so the control thread never blocks on a worker.
//
// Events (flow, flow_end, aggregate, log) are pushed by the daemon through
// ControlServer::publish() from the control thread (the daemon drains the
// workers' bounded event queues there); the server fans them out to
// subscribers, each with its own bounded queue.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fg::ctl {

// FlowStats: periodic counters of long flows (not in a subscription's default topics).
enum class Topic : uint8_t { Flow, FlowEnd, Aggregate, Log, FlowStats };
std::string_view toString(Topic t);
std::optional<Topic> parseTopic(std::string_view s);

// What subscribers and `flows` may filter on. Empty fields match anything.
struct EventFilter {
  std::string application;  // case-insensitive equality
  std::string address;      // address equal to the flow's src or dst (text form)
  std::string rule;         // deciding rule name
  bool matches(std::string_view application_v, std::string_view src, std::string_view dst,
               std::string_view rule_v) const;
};

// One event as the daemon publishes it: the filterable keys plus the record,
// already encoded as one line of JSON (no newline).
struct Event {
  Topic topic = Topic::Flow;
  std::string application;
  std::string src, dst;
  std::string rule;
  std::string json;
  std::string verdict;  // flow and flow_end: accept, drop, reject; "" otherwise
};

struct FlowQuery {
  EventFilter filter;
  size_t limit = 100;
};

class ControlHandler {
 public:
  virtual ~ControlHandler() = default;
  // {"version","uptime_s","kernel":{...},"queues":[...],"workers":N,
  //  "policy":{"generation","loaded_at","rules"},"counters":{...}}
  virtual nlohmann::json status() = 0;
  // Active flows (records), at most query.limit, newest decisions first.
  virtual void flows(const FlowQuery& query, std::function<void(nlohmann::json flows)> done) = 0;
  // One flow by id, or null when unknown.
  virtual void flow(const std::string& id, std::function<void(nlohmann::json flow)> done) = 0;
  // Active rules with hit counters and shadow hits.
  virtual nlohmann::json policy() = 0;
  // Reload the policy (as SIGHUP). On failure `errors` holds every error
  // ("file:line:col: key: message"); the old policy stays in force.
  struct ReloadResult {
    bool ok = false;
    uint64_t generation = 0;
    std::vector<std::string> errors;
  };
  virtual ReloadResult reload() = 0;
  // Prometheus text exposition (version 0.0.4) of every counter.
  virtual std::string metrics() = 0;
  // What the first-packet hint caches know about one server address:
  // {"address","dns":[{"client","hostname","expires_in_s"}],"learned":[{"port",
  //  "proto","application","l7_protocol","category","hostname","expires_in_s"}]}.
  // `error` is set (and `result` ignored) when `address` is not an address.
  struct HintResult {
    std::string error;
    nlohmann::json result;
  };
  virtual HintResult hint(const std::string& address) = 0;
};

}  // namespace fg::ctl
