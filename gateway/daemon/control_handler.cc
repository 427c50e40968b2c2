#include "gateway/daemon/control_handler.h"

#include <algorithm>
#include <cmath>

#include <boost/asio/post.hpp>

#include "gateway/core/clock.h"
#include "gateway/output/record_json.h"
#include "netlink/nft.h"

namespace fg::daemon {

namespace {

int64_t nowUs() { return core::SystemClock().now(); }

// Matches set aside for unverified names, all rules of `p` (docs/policy.md).
uint64_t unverifiedTotal(const policy::PolicySet& p) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < p.ruleCount(); ++i) n += p.ruleUnverified(i);
  return n;
}

// Route classes with the families they cover and the flows they routed, per
// family; `uncovered` counts flows of a family without a next hop (they left
// by the main table).
nlohmann::json routesStatus(const policy::PolicySet& p) {
  nlohmann::json routes = nlohmann::json::array();
  for (uint32_t i = 0; i < p.routes().size(); ++i) {
    const auto& r = p.routes()[i];
    const auto c = p.routeCounters(i);
    routes.push_back({{"name", r.name},
                      {"table", r.table},
                      {"families", policy::familiesName(r)},
                      {"flows", {{"ipv4", c.flows_v4}, {"ipv6", c.flows_v6}}},
                      {"uncovered", c.uncovered}});
  }
  return routes;
}

// Enqueue-to-verdict percentiles of one queue, µs (nfq::Worker::verdictLatency).
nlohmann::json latencySummary(const Histogram& h) {
  auto us = [](double v) { return std::round(v * 10) / 10; };
  return {{"packets", h.count()},
          {"p50", us(h.quantile(0.5))},
          {"p90", us(h.quantile(0.9))},
          {"p99", us(h.quantile(0.99))},
          {"mean", h.count() ? us(static_cast<double>(h.sum()) / static_cast<double>(h.count())) : 0.0}};
}

}  // namespace


WorkerTotals addUp(const std::vector<const nfq::WorkerCounters*>& workers) {
  WorkerTotals t;
  for (const auto* c : workers) {
#define FG_ADD_COUNTER(name, ...) t.name += c->name.load(std::memory_order_relaxed);
    FG_WORKER_COUNTERS(FG_ADD_COUNTER)
#undef FG_ADD_COUNTER
  }
  return t;
}

void putWorkerStatus(nlohmann::json& status, const WorkerTotals& t) {
#define FG_PUT_STATUS(name, source, path, ...) \
  if (std::string_view(path).size()) status[nlohmann::json::json_pointer(path)] = t.name;
  FG_WORKER_COUNTERS(FG_PUT_STATUS)
#undef FG_PUT_STATUS
}

void appendWorkerMetrics(ctl::Exposition& out, const WorkerTotals& t) {
  std::string_view family;
  auto put = [&](std::string_view metric, std::string_view key, std::string_view value, ctl::MetricType type,
                 std::string_view help, uint64_t v) {
    if (metric.empty()) return;
    if (metric != family) out.family(metric, type, help);
    family = metric;
    ctl::Labels labels;
    if (!key.empty()) labels.emplace_back(std::string(key), std::string(value));
    out.sample(v, labels);
  };
#define FG_PUT_METRIC(name, source, path, metric, key, value, type, help) \
  put(metric, key, value, ctl::MetricType::type, help, t.name);
  FG_WORKER_COUNTERS(FG_PUT_METRIC)
#undef FG_PUT_METRIC
}

WorkerTotals DaemonControl::totals() const {
  std::vector<const nfq::WorkerCounters*> counters;
  for (const auto& w : p_.workers) counters.push_back(&w->counters());
  WorkerTotals t = addUp(counters);
  for (const auto& w : p_.workers) t.enobufs += w->socket().counters().enobufs.load();
  return t;
}

ctl::ControlHandler::ReloadResult DaemonControl::reload() {
  ReloadOutcome r = p_.reloader.reload();
  return ReloadResult{.ok = r.ok, .generation = r.generation, .errors = std::move(r.errors)};
}

void DaemonControl::collectFlows(const ctl::EventFilter& filter, std::function<bool(const core::Flow&)> pick,
                          std::function<void(std::vector<nlohmann::ordered_json>)> done) {
  struct Pending {
    size_t left;
    std::vector<nlohmann::ordered_json> records;
    std::function<void(std::vector<nlohmann::ordered_json>)> done;
  };
  auto pending = std::make_shared<Pending>(Pending{p_.workers.size(), {}, std::move(done)});
  if (p_.workers.empty()) {
    pending->done({});
    return;
  }
  auto policy = p_.holder.current();
  for (auto& w : p_.workers) {
    w->post([io = &p_.io, pending, filter, pick, policy](const core::Engine& engine) {
      // Worker thread: copy out what matches, answer on the control thread.
      std::vector<nlohmann::ordered_json> mine;
      engine.pipeline().table().forEach([&](const core::Flow& f) {
        if (!pick(f)) return;
        std::string rule;
        if (f.decision.decided && f.decision.rule != UINT32_MAX && f.decision.generation == policy->generation())
          rule = std::string(policy->ruleName(f.decision.rule));
        const std::string src = f.src.toString(), dst = f.dst.toString();
        if (!filter.matches(f.cls.application, src, dst, rule)) return;
        auto r = output::flowRecord(f, "flow", f.last_seen);
        r["decided"] = f.decision.decided;
        if (f.decision.decided) {
          r["verdict"] = policy::toString(static_cast<policy::Verdict>(f.decision.verdict));
          if (rule.empty()) r["rule"] = nullptr; else r["rule"] = rule;
          r["mark"] = f.decision.mark_bits;
          r["policy_generation"] = f.decision.generation;
        }
        mine.push_back(std::move(r));
      });
      boost::asio::post(*io, [pending, mine = std::move(mine)]() mutable {
        for (auto& r : mine) pending->records.push_back(std::move(r));
        if (--pending->left == 0) pending->done(std::move(pending->records));
      });
    });
  }
}

nlohmann::json DaemonControl::status() {
  p_.events.drain();
  using json = nlohmann::json;
  const auto policy = p_.holder.current();
  json queues = json::array();
  const auto kstats = nfq::readKernelQueueStats();
  for (const auto& w : p_.workers) {
    auto& qc = w->socket().counters();
    const uint32_t num = w->socket().config().queue_num;
    const nfq::KernelQueueStats ks = kstats.count(num) ? kstats.at(num) : nfq::KernelQueueStats{};
    queues.push_back({{"queue", num},
                      {"worker", w->index()},
                      {"received", qc.received.load()},
                      {"verdict_messages", qc.verdict_messages.load()},
                      {"enobufs", qc.enobufs.load()},
                      {"verdict_latency_us", latencySummary(w->verdictLatency())},
                      {"kernel_waiting", ks.waiting},
                      {"kernel_dropped", ks.dropped},
                      {"kernel_user_dropped", ks.user_dropped}});
  }
  const WorkerTotals t = totals();
  const auto ac = p_.accounting.counters();
  json out{
      {"version", FLOWGATE_VERSION},
      {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count()},
      {"kernel", {{"queue_mode", std::string(nl::queueModeName(p_.kernel.queueMode()))},
                  {"table", "inet " + p_.cfg.table},
                  {"conntrack_events", p_.conntrack_events}}},
      {"workers", p_.workers.size()},
      {"queues", queues},
      {"policy", {{"generation", policy->generation()},
                  {"loaded_at", std::chrono::duration_cast<std::chrono::seconds>(p_.reloader.loadedAt().time_since_epoch()).count()},
                  {"rules", policy->ruleCount()},
                  {"unverified_names", unverifiedTotal(*policy)},
                  {"reloads_ok", p_.reloader.reloadsOk()},
                  {"reloads_failed", p_.reloader.reloadsFailed()},
                  {"warnings", policy->warnings().size()},
                  {"routes", routesStatus(*policy)}}},
      {"counters", {{"flows", {{"tracked", ac.tracked},
                               {"ended", ac.ended},
                               {"ended_early", ac.ended_early},
                               {"ended_at_shutdown", ac.ended_at_shutdown},
                               {"late_destroys", ac.late_destroys},
                               {"stats", ac.stats}}},
                    {"queue_enobufs", t.enobufs},
                    {"events_dropped", p_.events.dropped()},
                    {"set_elements", {{"written", p_.nft.writer()->written()}, {"dropped", p_.nft.writer()->dropped()}, {"failed", p_.nft.writer()->failed()}}}}},
      {"hints", hintsStatus()},
      {"outputs", p_.outputs ? p_.outputs->status() : nlohmann::json{{"mqtt", nlohmann::json::array()}}}};
  if (p_.netify && *p_.netify) {
    const ctl::NetifyServerCounters n = (*p_.netify)->counters();
    out["outputs"]["netify_socket"] = json{{"clients", n.clients},
                                           {"connections", n.connections_accepted},
                                           {"rejected", n.connections_rejected},
                                           {"messages", n.published},
                                           {"queued", n.queued},
                                           {"dropped", n.dropped},
                                           {"clients_dropping", n.clients_dropping}};
  }
  putWorkerStatus(out, t);
  return out;
}

nlohmann::json DaemonControl::hintsStatus() const {
  const core::HintsCounters h = p_.hints.counters();
  const uint64_t answered = h.dns_hits + h.cache_hits;
  return nlohmann::json{
      {"enabled", p_.hints.enabled()},
      {"dns", {{"entries", h.dns_entries},
               {"max_entries", p_.cfg.hints.dns.max_entries},
               {"responses", h.dns_responses},
               {"unparsed", h.dns_unparsed},
               {"addresses_learned", h.dns_addresses},
               {"evictions", h.dns.evictions},
               {"expirations", h.dns.expirations}}},
      {"learned", {{"entries", h.learned_entries},
                   {"max_entries", p_.cfg.hints.learned_entries},
                   {"learned", h.learned},
                   {"evictions", h.learned_cache.evictions}}},
      {"lookups", h.lookups},
      {"dns_hits", h.dns_hits},
      {"cache_hits", h.cache_hits},
      {"hit_rate", h.lookups ? static_cast<double>(answered) / static_cast<double>(h.lookups) : 0.0}};
}

ctl::ControlHandler::HintResult DaemonControl::hint(const std::string& address) {
  const auto addr = core::IpAddress::parse(address);
  if (!addr) return {.error = "\"address\" is not an IPv4 or IPv6 address: " + address, .result = nullptr};
  const int64_t now = nowUs();
  const core::HintInfo info = p_.hints.describe(*addr, now);
  auto secondsLeft = [now](core::Timestamp expires) { return (expires - now + 999'999) / 1'000'000; };
  nlohmann::json dns = nlohmann::json::array();
  for (const auto& d : info.dns)
    dns.push_back({{"client", d.client.toString()},
                   {"hostname", output::safeString(d.hostname)},
                   {"expires_in_s", secondsLeft(d.expires)}});
  nlohmann::json learned = nlohmann::json::array();
  for (const auto& l : info.learned)
    learned.push_back({{"port", l.port},
                       {"proto", core::protoName(l.proto)},
                       {"application", output::safeString(l.server.application)},
                       {"l7_protocol", output::safeString(l.server.l7_protocol)},
                       {"category", output::safeString(l.server.category)},
                       {"hostname", output::safeString(l.server.hostname)},
                       {"expires_in_s", secondsLeft(l.expires)}});
  return {.error = "", .result = {{"address", addr->toString()}, {"dns", std::move(dns)}, {"learned", std::move(learned)}}};
}

// Active flows: the decided ones from conntrack accounting (their packets
// bypass the workers, conntrack knows when they end) and the ones the
// workers are still inspecting.
void DaemonControl::flows(const ctl::FlowQuery& query, std::function<void(nlohmann::json)> done) {
  p_.events.drain();
  std::vector<nlohmann::ordered_json> decided;
  p_.accounting.forEachTracked([&](const DecidedFlow& f) {
    if (!query.filter.matches(f.attrs.application, f.src, f.dst, f.attrs.rule)) return;
    auto r = nlohmann::ordered_json::parse(f.record, nullptr, false);
    if (r.is_discarded()) return;
    r["state"] = "decided";
    decided.push_back(std::move(r));
  });
  const size_t limit = query.limit;
  collectFlows(query.filter, [](const core::Flow& f) { return !f.decision.decided; },
               [limit, decided = std::move(decided), done = std::move(done)](
                   std::vector<nlohmann::ordered_json> inspecting) mutable {
                 for (auto& r : inspecting) {
                   r["state"] = "inspecting";
                   decided.push_back(std::move(r));
                 }
                 std::sort(decided.begin(), decided.end(), [](const auto& a, const auto& b) {
                   return a["last_seen"].template get<double>() > b["last_seen"].template get<double>();
                 });
                 if (decided.size() > limit) decided.resize(limit);
                 nlohmann::json out = nlohmann::json::array();
                 for (auto& r : decided) out.push_back(nlohmann::json::parse(r.dump()));
                 done(std::move(out));
               });
}

void DaemonControl::flow(const std::string& id, std::function<void(nlohmann::json)> done) {
  p_.events.drain();
  std::optional<nlohmann::json> found;
  p_.accounting.forEachTracked([&](const DecidedFlow& f) {
    if (f.flow_id != id || found) return;
    auto r = nlohmann::json::parse(f.record, nullptr, false);
    if (!r.is_discarded()) {
      r["state"] = "decided";
      found = std::move(r);
    }
  });
  if (found) {
    done(std::move(*found));
    return;
  }
  uint64_t want = 0;
  try {
    want = std::stoull(id);
  } catch (...) {
    done(nullptr);
    return;
  }
  collectFlows(ctl::EventFilter{}, [want](const core::Flow& f) { return f.id == want; },
               [done = std::move(done)](std::vector<nlohmann::ordered_json> records) {
                 if (records.empty()) {
                   done(nullptr);
                   return;
                 }
                 auto r = nlohmann::json::parse(records.front().dump());
                 r["state"] = r.value("decided", false) ? "decided" : "inspecting";
                 done(std::move(r));
               });
}

nlohmann::json DaemonControl::policy() {
  const auto p = p_.holder.current();
  nlohmann::json rules = nlohmann::json::array();
  for (uint32_t i = 0; i < p->ruleCount(); ++i) {
    const policy::RuleInfo& r = p->rule(i);
    rules.push_back({{"name", r.name},
                     {"file", r.file},
                     {"line", r.line},
                     {"enabled", r.enabled},
                     {"mode", r.shadow ? "shadow" : "enforce"},
                     {"action", policy::toString(r.verdict)},
                     {"require_verified_name", r.require_verified_name},
                     {"hits", p->ruleHits(i)},
                     {"unverified", p->ruleUnverified(i)}});
  }
  return {{"generation", p->generation()}, {"paths", p_.cfg.policy_paths}, {"rules", rules}, {"routes", routesStatus(*p)}};
}

std::string DaemonControl::metrics() {
  ctl::Exposition out;
  appendWorkerMetrics(out, totals());
  out.family("flowgate_queue_enobufs_total", ctl::MetricType::Counter, "Receive buffer overruns per queue");
  for (const auto& w : p_.workers)
    out.sample(w->socket().counters().enobufs.load(), {{"queue", std::to_string(w->socket().config().queue_num)}});
  out.family("flowgate_queue_verdict_latency_seconds", ctl::MetricType::Histogram,
             "Time from the kernel queueing a packet to flowgate sending its verdict, per queue");
  for (const auto& w : p_.workers)
    out.durations(w->verdictLatency(), {{"queue", std::to_string(w->socket().config().queue_num)}});
  const auto ks = nfq::readKernelQueueStats();
  out.family("flowgate_queue_kernel_dropped_total", ctl::MetricType::Counter,
             "Packets the kernel could not queue (accepted when failure.queue_full is accept)");
  for (const auto& w : p_.workers) {
    const uint32_t num = w->socket().config().queue_num;
    out.sample(ks.count(num) ? ks.at(num).dropped : 0, {{"queue", std::to_string(num)}});
  }
  const auto p = p_.holder.current();
  out.gauge("flowgate_policy_generation", "Generation of the policy in force", static_cast<double>(p->generation()));
  out.counter("flowgate_policy_reloads_failed_total", "Refused policy reloads", p_.reloader.reloadsFailed());
  out.family("flowgate_policy_rule_hits_total", ctl::MetricType::Counter, "Flows decided or shadow-matched by each rule");
  for (uint32_t i = 0; i < p->ruleCount(); ++i) out.sample(p->ruleHits(i), {{"rule", p->rule(i).name}});
  out.family("flowgate_route_flows_total", ctl::MetricType::Counter, "Flows routed by each route class, by address family");
  for (uint32_t i = 0; i < p->routes().size(); ++i) {
    const auto c = p->routeCounters(i);
    out.sample(c.flows_v4, {{"route", p->routes()[i].name}, {"family", "ipv4"}})
        .sample(c.flows_v6, {{"route", p->routes()[i].name}, {"family", "ipv6"}});
  }
  out.family("flowgate_route_uncovered_flows_total", ctl::MetricType::Counter,
             "Flows a rule routed through a route class without a next hop of their family (they left by the main table)");
  for (uint32_t i = 0; i < p->routes().size(); ++i)
    out.sample(p->routeCounters(i).uncovered, {{"route", p->routes()[i].name}});
  out.family("flowgate_policy_rule_unverified_total", ctl::MetricType::Counter,
             "Flows whose match of each rule was set aside: the rule requires a verified name, the flow's was not");
  for (uint32_t i = 0; i < p->ruleCount(); ++i) out.sample(p->ruleUnverified(i), {{"rule", p->rule(i).name}});
  out.counter("flowgate_set_elements_written_total", "Set elements written to the kernel", p_.nft.writer()->written());
  const core::HintsCounters h = p_.hints.counters();
  out.gauge("flowgate_hints_dns_entries", "Addresses in the DNS hint cache", static_cast<double>(h.dns_entries));
  out.gauge("flowgate_hints_learned_entries", "Servers in the learned-classification cache", static_cast<double>(h.learned_entries));
  out.counter("flowgate_hints_dns_responses_total", "DNS responses inspected for hints", h.dns_responses);
  out.counter("flowgate_hints_lookups_total", "New flows looked up in the hint caches", h.lookups);
  out.family("flowgate_hints_hits_total", ctl::MetricType::Counter, "New flows answered from the hint caches, by source");
  out.sample(h.dns_hits, {{"source", "dns"}}).sample(h.cache_hits, {{"source", "cache"}});
  out.counter("flowgate_events_dropped_total", "Decision events dropped between workers and the control thread", p_.events.dropped());
  ctl::appendApplicationTotals(out, p_.accounting.aggregator().applicationTotals());
  ctl::appendApplicationHealth(out, p_.accounting.aggregator().healthTotals());
  if (p_.outputs) p_.outputs->appendMetrics(out);
  if (p_.netify && *p_.netify) (*p_.netify)->appendMetrics(out);
  p_.server->appendMetrics(out);
  return out.take();
}

}  // namespace fg::daemon
