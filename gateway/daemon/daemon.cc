#include "gateway/daemon/daemon.h"

#include <linux/netlink.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>

#include <boost/asio.hpp>

#include "common/log.h"
#include "gateway/control/aggregates.h"
#include "gateway/control/event_queue.h"
#include "gateway/control/jsonl_file.h"
#include "gateway/control/metrics.h"
#include "gateway/control/server.h"
#include "gateway/daemon/accounting.h"
#include "gateway/daemon/kernel_side.h"
#include "gateway/daemon/kernel_writer.h"
#include "gateway/daemon/outputs.h"
#include "gateway/daemon/process.h"
#include "gateway/daemon/reload.h"
#include "gateway/dpi/ndpi_classifier.h"
#include "gateway/output/record_json.h"
#include "gateway/sd_notify.h"
#include "netlink/conntrack.h"

namespace fg::daemon {
namespace {

namespace asio = boost::asio;
using cli::Config;

int64_t nowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A decision travelling from a worker to the control thread.
struct DecisionItem {
  ctl::Event event;
  DecidedFlow flow;
};

// Kernel queue statistics from /proc/net/netfilter/nfnetlink_queue.
struct KernelQueueStats {
  uint64_t waiting = 0, dropped = 0, user_dropped = 0;
};
std::map<uint32_t, KernelQueueStats> readKernelQueueStats() {
  std::map<uint32_t, KernelQueueStats> out;
  std::ifstream f("/proc/net/netfilter/nfnetlink_queue");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    uint64_t num = 0, portid = 0, waiting = 0, mode = 0, range = 0, dropped = 0, user = 0;
    if (in >> num >> portid >> waiting >> mode >> range >> dropped >> user)
      out[static_cast<uint32_t>(num)] = {waiting, dropped, user};
  }
  return out;
}

// The workers' counters added up (each worker publishes its own).
struct WorkerTotals {
  uint64_t packets = 0, decided = 0, accept = 0, drop = 0, reject = 0;
  uint64_t active = 0, evicted = 0, decode_errors = 0, enobufs = 0;
  uint64_t early_answers = 0, first_packet_blocked = 0, first_packet_marked = 0;
  uint64_t kernel_bound = 0, observed = 0, detection_updated = 0;
};
WorkerTotals sumWorkers(const std::vector<std::unique_ptr<nfq::Worker>>& workers) {
  WorkerTotals t;
  for (const auto& w : workers) {
    const auto& c = w->counters();
    t.packets += c.packets.load();
    t.decided += c.decided.load();
    t.accept += c.decided_accept.load();
    t.drop += c.decided_drop.load();
    t.reject += c.decided_reject.load();
    t.active += c.flows_active.load();
    t.evicted += c.flows_evicted.load();
    t.decode_errors += c.decode_errors.load();
    t.enobufs += w->socket().counters().enobufs.load();
    t.early_answers += c.early_answers.load();
    t.first_packet_blocked += c.first_packet_blocked.load();
    t.first_packet_marked += c.first_packet_marked.load();
    t.kernel_bound += c.kernel_bound.load();
    t.observed += c.observed.load();
    t.detection_updated += c.detection_updated.load();
  }
  return t;
}

class Daemon final : public ctl::ControlHandler {
 public:
  Daemon(const Config& cfg, const policy::LoadOptions& options)
      : cfg_(cfg), options_(options), holder_(options), hints_(cfg.hints), events_(65536),
        accounting_(ctl::Aggregator::Options{.interval_s = cfg.aggregate_interval,
                                             .per_address = cfg.aggregate_per_address,
                                             .per_rule = cfg.aggregate_per_rule,
                                             .start_us = nowUs()}),
        drain_timer_(io_), dump_timer_(io_), started_(std::chrono::steady_clock::now()) {}

  int run();

  // ctl::ControlHandler (control thread)
  nlohmann::json status() override;
  void flows(const ctl::FlowQuery& query, std::function<void(nlohmann::json)> done) override;
  void flow(const std::string& id, std::function<void(nlohmann::json)> done) override;
  nlohmann::json policy() override;
  ReloadResult reload() override;
  std::string metrics() override;
  HintResult hint(const std::string& address) override;
  output::NetifyOptions netifyOptions() const {
    output::NetifyOptions n;
    n.local_networks = cfg_.local_networks;
    n.lan_interfaces = cfg_.interfaces;
    n.interface = cfg_.interfaces.empty() ? "any" : cfg_.interfaces.front();
    return n;
  }
  nlohmann::json hintsStatus(const WorkerTotals& t) const;

 private:
  bool startKernel();
  bool startWorkers();
  bool startControl();
  void onDecided(const core::Flow& flow, const policy::Decision& d, const policy::PolicySet& p,
                 std::string_view in_interface, int worker);
  void drainEvents();
  void scheduleDrain();
  void watchConntrack();
  void scheduleDump();
  void dumpConntrack(int64_t sample_ts, std::optional<int64_t> boundary);
  void emit(const ctl::Event& e);
  // Lists flows of every worker matching `filter`; calls done(records).
  void collectFlows(const ctl::EventFilter& filter, std::function<bool(const core::Flow&)> pick,
                    std::function<void(std::vector<nlohmann::ordered_json>)> done);

  const Config cfg_;
  const policy::LoadOptions options_;
  policy::PolicyHolder holder_;
  core::Hints hints_;  // shared by the workers (DNS answers, learned servers)
  std::unique_ptr<NftOwner> nft_;        // the nft table's socket, then its writer thread
  std::unique_ptr<PolicyKernel> kernel_;  // table and routes of the policy in force
  std::unique_ptr<Reloader> reloader_;
  std::vector<std::unique_ptr<nfq::Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  ctl::EventQueue<DecisionItem> events_;
  ctl::EventQueue<ctl::Event> log_events_{4096};  // the `log` topic
  Accounting accounting_;
  std::optional<nl::ConntrackEvents> ct_events_;
  bool accounting_enabled_here_ = false;
  asio::io_context io_;
  std::unique_ptr<ctl::ControlServer> server_;
  std::unique_ptr<ctl::HttpMetricsListener> http_;
  std::unique_ptr<ctl::JsonLinesFile> events_file_;
  std::unique_ptr<Outputs> outputs_;  // MQTT sinks
  std::optional<asio::posix::stream_descriptor> ct_fd_;
  asio::steady_timer drain_timer_;
  asio::steady_timer dump_timer_;
  std::chrono::steady_clock::time_point started_;
  uint64_t events_file_topics_ = 0;  // bit per ctl::Topic
};

bool Daemon::startKernel() {
  auto nft = nl::NlSocket::open(NETLINK_NETFILTER);
  if (!nft) {
    log::error("start_failed", {{"error", nft.error().message()}});
    return false;
  }
  auto mode = nl::detectQueueMode(*nft);
  if (!mode) {
    log::error("start_failed", {{"error", "no usable NFQUEUE support: " + mode.error().message()}});
    return false;
  }
  log::info("kernel_queue_mode",
            {{"mode", nl::queueModeName(*mode)},
             {"detail", *mode == nl::QueueMode::Native
                            ? "native nft queue expression"
                            : "native nft queue unavailable; xtables NFQUEUE target via nft compat"}});
  nft_ = std::make_unique<NftOwner>(std::move(*nft), cfg_.table);
  auto rt = nl::NlSocket::open(NETLINK_ROUTE);
  if (!rt) {
    log::error("start_failed", {{"error", rt.error().message()}});
    return false;
  }
  kernel_ = std::make_unique<PolicyKernel>(
      cfg_, *mode,
      [nft = nft_.get()](const nl::NftTableSpec& spec, bool replace) { return nft->installTable(spec, replace); },
      std::make_unique<NetlinkRouting>(std::move(*rt)));
  if (auto r = kernel_->install(*holder_.current()); !r) {
    log::error("start_failed", {{"error", r.error().message()}});
    return false;
  }
  log::info("nft_table_installed", {{"table", "inet " + cfg_.table}, {"workers", cfg_.workers}});
  reloader_ = std::make_unique<Reloader>(
      [this](uint64_t generation) { return policy::loadPolicy(cfg_.policy_paths, options_, generation); },
      cfg_.marks, holder_, *kernel_);

  // Conntrack accounting: counters for the packets of the fast path.
  // Events first, so every flow created from now on reports its end.
  if (auto acct = nl::ensureAccounting(); !acct) {
    log::warn("conntrack_accounting_unavailable", {{"error", acct.error().message()}});
  } else {
    accounting_enabled_here_ = *acct;
    if (*acct) log::info("conntrack_accounting_enabled", {{"note", "counts conntracks created from now on"}});
  }
  (void)nl::ensureTimestamps();
  auto ev = nl::ConntrackEvents::open(nl::ConntrackEvents::Options{.groups = nl::ConntrackEvents::kDestroy,
                                                                    .rcvbuf = nl::ConntrackEvents::kDefaultRcvbuf});
  if (!ev) log::warn("conntrack_events_unavailable", {{"error", ev.error().message()}});
  else ct_events_.emplace(std::move(*ev));
  return true;
}

bool Daemon::startWorkers() {
  for (uint32_t i = 0; i < cfg_.workers; ++i) {
    nfq::QueueConfig qc{.queue_num = static_cast<uint16_t>(cfg_.queue_num + i),
                        .max_len = cfg_.queue_max_len,
                        .rcvbuf_bytes = cfg_.socket_buffer,
                        .copy_range = 0xffff,
                        .fail_open = cfg_.fail_open,
                        .gso = true};
    auto qs = nfq::QueueSocket::open(qc);
    if (!qs) {
      log::error("start_failed", {{"error", qs.error().message()}});
      return false;
    }
    core::EngineConfig ec;
    ec.pipeline.packet_budget = cfg_.packet_budget;
    ec.pipeline.table.max_flows = cfg_.max_flows;
    ec.pipeline.table.timeouts = cfg_.timeouts;
    ec.pipeline.table.first_id = i + 1;
    ec.pipeline.table.id_step = cfg_.workers;
    ec.pipeline.hints = &hints_;
    ec.marks = cfg_.marks;
    ec.keep_first_route = cfg_.keep_first_route;
    const int index = static_cast<int>(i);
    nfq::WorkerObservers obs;
    obs.decided = [this, index](const core::Flow& f, const policy::Decision& d,
                                const policy::PolicySet& p, std::string_view in_if) {
      onDecided(f, d, p, in_if, index);
    };
    workers_.push_back(std::make_unique<nfq::Worker>(
        index, nfq::WorkerConfig{.queue = qc, .engine = ec, .max_round = 256}, std::move(*qs),
        std::make_unique<dpi::NdpiClassifier>(), holder_,
        [this](const std::vector<nfq::SetElementRequest>& r) { nft_->writer()->addElements(r); },
        std::move(obs)));
  }
  return true;
}

bool Daemon::startControl() {
  ctl::ServerOptions so;
  so.socket_path = cfg_.control_socket;
  so.group = cfg_.control_group;
  so.netify = [netify = netifyOptions()](const ctl::Event& e) { return netifyPayload(e, netify); };
  server_ = std::make_unique<ctl::ControlServer>(io_, *this, so);
  if (auto r = server_->start(); !r) {
    log::error("start_failed", {{"error", "control socket: " + r.error().message()}});
    return false;
  }
  if (!cfg_.metrics_listen.empty()) {
    const auto colon = cfg_.metrics_listen.rfind(':');
    ctl::HttpMetricsOptions ho;
    ho.address = cfg_.metrics_listen.substr(0, colon);
    ho.port = static_cast<uint16_t>(std::stoul(cfg_.metrics_listen.substr(colon + 1)));
    http_ = std::make_unique<ctl::HttpMetricsListener>(io_, *this, ho);
    if (auto r = http_->start(); !r) {
      log::error("start_failed", {{"error", "metrics listener: " + r.error().message()}});
      return false;
    }
  }
  if (!cfg_.events_file.empty()) {
    auto f = ctl::JsonLinesFile::open(cfg_.events_file);
    if (!f) {
      log::error("start_failed", {{"error", "events file: " + f.error().message()}});
      return false;
    }
    events_file_ = std::move(*f);
    for (const auto& t : cfg_.events_topics)
      if (auto topic = ctl::parseTopic(t)) events_file_topics_ |= 1u << static_cast<unsigned>(*topic);
  }
  scheduleDrain();
  watchConntrack();
  scheduleDump();
  return true;
}

void Daemon::onDecided(const core::Flow& f, const policy::Decision& d, const policy::PolicySet& p,
                       std::string_view in_if, int) {
  // Worker thread: encode, then hand over without waiting (dropped and
  // counted by the queue when the control thread falls behind).
  DecisionItem item;
  const std::string rule = d.rule == policy::Decision::kNone ? "" : std::string(p.ruleName(d.rule));
  item.event = ctl::Event{.topic = ctl::Topic::Flow,
                          .application = f.cls.application,
                          .src = f.src.toString(),
                          .dst = f.dst.toString(),
                          .rule = rule,
                          .json = output::encodeLine(output::decisionRecord(f, d, p, f.last_seen, in_if, "")),
                          .verdict = std::string(policy::toString(d.verdict))};
  if (auto t = tupleOf(item.event.src, f.src_port, item.event.dst, f.dst_port, f.proto)) {
    item.flow = DecidedFlow{.flow_id = std::to_string(f.id),
                            .tuple = *t,
                            .attrs = ctl::FlowAttributes{.application = f.cls.application,
                                                         .local_address = item.event.src,
                                                         .rule = rule},
                            .src = item.event.src,
                            .dst = item.event.dst,
                            .first_seen_us = f.first_seen,
                            .record = item.event.json};
  }
  (void)events_.tryPush(std::move(item));
}

void Daemon::emit(const ctl::Event& e) {
  server_->publish(e);
  if (outputs_) outputs_->emit(e);
  if (events_file_ && (events_file_topics_ >> static_cast<unsigned>(e.topic) & 1u)) {
    if (auto w = events_file_->write(e.json); !w) {
      static log::RateLimit limit(2);
      uint64_t suppressed = 0;
      if (limit.allow(suppressed))
        log::warn("events_file_write_failed", {{"error", w.error().message()}, {"suppressed", suppressed}});
    }
  }
}

void Daemon::drainEvents() {
  std::vector<DecisionItem> items;
  events_.drain(items, 4096);
  for (auto& it : items) {
    if (!it.flow.flow_id.empty()) accounting_.track(std::move(it.flow));
    emit(it.event);
  }
  std::vector<ctl::Event> logs;
  log_events_.drain(logs, 4096);
  for (const auto& e : logs) emit(e);
}

// log::Sink: every log line also becomes a `log` event (any thread; never
// blocks: the queue drops and counts when full).
void logToEvents(log::Level level, std::string_view line, void* context) {
  auto* q = static_cast<ctl::EventQueue<ctl::Event>*>(context);
  nlohmann::json j{{"event", "log"},
                   {"ts", static_cast<double>(nowUs()) / 1e6},
                   {"level", log::toString(level)},
                   {"message", line}};
  (void)q->tryPush(ctl::Event{.topic = ctl::Topic::Log, .application = {}, .src = {}, .dst = {}, .rule = {},
                              .json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                              .verdict = {}});
}

void Daemon::scheduleDrain() {
  drain_timer_.expires_after(std::chrono::milliseconds(20));
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    drainEvents();
    scheduleDrain();
  });
}

void Daemon::watchConntrack() {
  if (!ct_events_) return;
  if (!ct_fd_) ct_fd_.emplace(io_, ::dup(ct_events_->fd()));
  ct_fd_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;
    drainEvents();  // a destroy must find the flow's decision
    auto got = ct_events_->poll(0, [this](const nl::CtEntry& e) {
      if (auto ev = accounting_.onConntrack(e, nowUs())) emit(*ev);
    });
    if (!got) log::warn("conntrack_events_failed", {{"error", got.error().message()}});
    if (ct_events_->takeOverflow()) dumpConntrack(nowUs(), std::nullopt);  // resync
    watchConntrack();
  });
}

void Daemon::dumpConntrack(int64_t sample_ts, std::optional<int64_t> boundary) {
  drainEvents();
  const nl::CtMarkFilter decided{.value = cfg_.marks.decided, .mask = cfg_.marks.decided};
  auto n = nl::dumpConntrack(std::nullopt, decided, [&](const nl::CtEntry& e) {
    (void)accounting_.onConntrack(e, sample_ts);
  });
  if (!n) log::warn("conntrack_dump_failed", {{"error", n.error().message()}});
  if (boundary)
    for (const ctl::AggregateRow& row : accounting_.close(*boundary)) emit(row.toEvent());
}

void Daemon::scheduleDump() {
  // Wake at the next aggregate boundary or after conntrack_dump_interval,
  // whichever comes first. The dump refreshes long flows' counters and makes
  // the kernel reap expired conntracks (their destroy events follow).
  const int64_t now = nowUs();
  const int64_t boundary = accounting_.nextBoundary(now);
  const int64_t periodic = now + static_cast<int64_t>(cfg_.conntrack_dump_interval) * 1'000'000;
  const int64_t at = std::min(boundary, periodic);
  dump_timer_.expires_after(std::chrono::microseconds(std::max<int64_t>(at - now, 1000)));
  dump_timer_.async_wait([this, at, boundary](const boost::system::error_code& ec) {
    if (ec) return;
    const bool at_boundary = at == boundary;
    dumpConntrack(at_boundary ? boundary : nowUs(), at_boundary ? std::optional<int64_t>(boundary) : std::nullopt);
    scheduleDump();
  });
}

void Daemon::collectFlows(const ctl::EventFilter& filter, std::function<bool(const core::Flow&)> pick,
                          std::function<void(std::vector<nlohmann::ordered_json>)> done) {
  struct Pending {
    size_t left;
    std::vector<nlohmann::ordered_json> records;
    std::function<void(std::vector<nlohmann::ordered_json>)> done;
  };
  auto pending = std::make_shared<Pending>(Pending{workers_.size(), {}, std::move(done)});
  if (workers_.empty()) {
    pending->done({});
    return;
  }
  auto policy = holder_.current();
  for (auto& w : workers_) {
    w->post([this, pending, filter, pick, policy](const core::Engine& engine) {
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
      asio::post(io_, [pending, mine = std::move(mine)]() mutable {
        for (auto& r : mine) pending->records.push_back(std::move(r));
        if (--pending->left == 0) pending->done(std::move(pending->records));
      });
    });
  }
}

nlohmann::json Daemon::status() {
  drainEvents();
  using json = nlohmann::json;
  const auto policy = holder_.current();
  json queues = json::array();
  const auto kstats = readKernelQueueStats();
  for (const auto& w : workers_) {
    auto& qc = w->socket().counters();
    const uint32_t num = w->socket().config().queue_num;
    const KernelQueueStats ks = kstats.count(num) ? kstats.at(num) : KernelQueueStats{};
    queues.push_back({{"queue", num},
                      {"worker", w->index()},
                      {"received", qc.received.load()},
                      {"verdict_messages", qc.verdict_messages.load()},
                      {"enobufs", qc.enobufs.load()},
                      {"kernel_waiting", ks.waiting},
                      {"kernel_dropped", ks.dropped},
                      {"kernel_user_dropped", ks.user_dropped}});
  }
  const WorkerTotals t = sumWorkers(workers_);
  const auto ac = accounting_.counters();
  return json{
      {"version", FLOWGATE_VERSION},
      {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count()},
      {"kernel", {{"queue_mode", std::string(nl::queueModeName(kernel_->queueMode()))},
                  {"table", "inet " + cfg_.table},
                  {"conntrack_events", ct_events_.has_value()}}},
      {"workers", workers_.size()},
      {"queues", queues},
      {"policy", {{"generation", policy->generation()},
                  {"loaded_at", std::chrono::duration_cast<std::chrono::seconds>(reloader_->loadedAt().time_since_epoch()).count()},
                  {"rules", policy->ruleCount()},
                  {"reloads_ok", reloader_->reloadsOk()},
                  {"reloads_failed", reloader_->reloadsFailed()}}},
      {"counters", {{"packets", t.packets},
                    {"verdicts", {{"accept", t.accept}, {"drop", t.drop}, {"reject", t.reject}}},
                    {"flows", {{"active", t.active}, {"decided", t.decided}, {"evicted", t.evicted}, {"tracked", ac.tracked}, {"ended", ac.ended}}},
                    {"queue_enobufs", t.enobufs},
                    {"decode_errors", t.decode_errors},
                    {"events_dropped", events_.dropped()},
                    {"set_elements", {{"written", nft_->writer()->written()}, {"dropped", nft_->writer()->dropped()}, {"failed", nft_->writer()->failed()}}}}},
      {"hints", hintsStatus(t)},
      {"outputs", outputs_ ? outputs_->status() : nlohmann::json{{"mqtt", nlohmann::json::array()}}}};
}

nlohmann::json Daemon::hintsStatus(const WorkerTotals& t) const {
  const core::HintsCounters h = hints_.counters();
  const uint64_t answered = h.dns_hits + h.cache_hits;
  return nlohmann::json{
      {"enabled", hints_.enabled()},
      {"dns", {{"entries", h.dns_entries},
               {"max_entries", cfg_.hints.dns.max_entries},
               {"responses", h.dns_responses},
               {"unparsed", h.dns_unparsed},
               {"addresses_learned", h.dns_addresses},
               {"evictions", h.dns.evictions},
               {"expirations", h.dns.expirations}}},
      {"learned", {{"entries", h.learned_entries},
                   {"max_entries", cfg_.hints.learned_entries},
                   {"learned", h.learned},
                   {"evictions", h.learned_cache.evictions}}},
      {"lookups", h.lookups},
      {"dns_hits", h.dns_hits},
      {"cache_hits", h.cache_hits},
      {"hit_rate", h.lookups ? static_cast<double>(answered) / static_cast<double>(h.lookups) : 0.0},
      {"first_packet", {{"early_answers", t.early_answers},
                        {"blocked", t.first_packet_blocked},
                        {"marked", t.first_packet_marked},
                        {"kernel_bound", t.kernel_bound},
                        {"detection_updated", t.detection_updated},
                        {"dns_observed", t.observed}}}};
}

ctl::ControlHandler::HintResult Daemon::hint(const std::string& address) {
  const auto addr = core::IpAddress::parse(address);
  if (!addr) return {.error = "\"address\" is not an IPv4 or IPv6 address: " + address, .result = nullptr};
  const int64_t now = nowUs();
  const core::HintInfo info = hints_.describe(*addr, now);
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
void Daemon::flows(const ctl::FlowQuery& query, std::function<void(nlohmann::json)> done) {
  drainEvents();
  std::vector<nlohmann::ordered_json> decided;
  accounting_.forEachTracked([&](const DecidedFlow& f) {
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

void Daemon::flow(const std::string& id, std::function<void(nlohmann::json)> done) {
  drainEvents();
  std::optional<nlohmann::json> found;
  accounting_.forEachTracked([&](const DecidedFlow& f) {
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

nlohmann::json Daemon::policy() {
  const auto p = holder_.current();
  nlohmann::json rules = nlohmann::json::array();
  for (uint32_t i = 0; i < p->ruleCount(); ++i) {
    const policy::RuleInfo& r = p->rule(i);
    rules.push_back({{"name", r.name},
                     {"file", r.file},
                     {"line", r.line},
                     {"enabled", r.enabled},
                     {"mode", r.shadow ? "shadow" : "enforce"},
                     {"action", policy::toString(r.verdict)},
                     {"hits", p->ruleHits(i)}});
  }
  return {{"generation", p->generation()}, {"paths", cfg_.policy_paths}, {"rules", rules}};
}

ctl::ControlHandler::ReloadResult Daemon::reload() {
  ReloadOutcome r = reloader_->reload();
  return ReloadResult{.ok = r.ok, .generation = r.generation, .errors = std::move(r.errors)};
}

std::string Daemon::metrics() {
  ctl::Exposition out;
  const WorkerTotals t = sumWorkers(workers_);
  out.counter("flowgate_packets_total", "Packets the workers received from the kernel queues", t.packets);
  out.family("flowgate_flows_decided_total", ctl::MetricType::Counter, "Flows decided, by verdict");
  out.sample(t.accept, {{"verdict", "accept"}}).sample(t.drop, {{"verdict", "drop"}}).sample(t.reject, {{"verdict", "reject"}});
  out.gauge("flowgate_flows_active", "Flows in the workers' flow tables", static_cast<double>(t.active));
  out.counter("flowgate_flows_evicted_total", "Flows evicted by the flow table cap", t.evicted);
  out.counter("flowgate_decode_errors_total", "Packets that could not be decoded (accepted unmarked)", t.decode_errors);
  out.family("flowgate_queue_enobufs_total", ctl::MetricType::Counter, "Receive buffer overruns per queue");
  for (const auto& w : workers_)
    out.sample(w->socket().counters().enobufs.load(), {{"queue", std::to_string(w->socket().config().queue_num)}});
  const auto ks = readKernelQueueStats();
  out.family("flowgate_queue_kernel_dropped_total", ctl::MetricType::Counter,
             "Packets the kernel could not queue (failed open when fail_open is on)");
  for (const auto& w : workers_) {
    const uint32_t num = w->socket().config().queue_num;
    out.sample(ks.count(num) ? ks.at(num).dropped : 0, {{"queue", std::to_string(num)}});
  }
  const auto p = holder_.current();
  out.gauge("flowgate_policy_generation", "Generation of the policy in force", static_cast<double>(p->generation()));
  out.counter("flowgate_policy_reloads_failed_total", "Refused policy reloads", reloader_->reloadsFailed());
  out.family("flowgate_policy_rule_hits_total", ctl::MetricType::Counter, "Flows decided or shadow-matched by each rule");
  for (uint32_t i = 0; i < p->ruleCount(); ++i) out.sample(p->ruleHits(i), {{"rule", p->rule(i).name}});
  out.counter("flowgate_set_elements_written_total", "Set elements written to the kernel", nft_->writer()->written());
  const core::HintsCounters h = hints_.counters();
  out.gauge("flowgate_hints_dns_entries", "Addresses in the DNS hint cache", static_cast<double>(h.dns_entries));
  out.gauge("flowgate_hints_learned_entries", "Servers in the learned-classification cache", static_cast<double>(h.learned_entries));
  out.counter("flowgate_hints_dns_responses_total", "DNS responses inspected for hints", h.dns_responses);
  out.counter("flowgate_hints_lookups_total", "New flows looked up in the hint caches", h.lookups);
  out.family("flowgate_hints_hits_total", ctl::MetricType::Counter, "New flows answered from the hint caches, by source");
  out.sample(h.dns_hits, {{"source", "dns"}}).sample(h.cache_hits, {{"source", "cache"}});
  out.family("flowgate_first_packet_total", ctl::MetricType::Counter, "Flows acted on at their first packet");
  out.sample(t.first_packet_blocked, {{"action", "blocked"}}).sample(t.first_packet_marked, {{"action", "marked"}})
      .sample(t.kernel_bound, {{"action", "kernel_bound"}});
  out.counter("flowgate_detection_updated_total", "Flows whose early answer DPI contradicted", t.detection_updated);
  out.counter("flowgate_events_dropped_total", "Decision events dropped between workers and the control thread", events_.dropped());
  ctl::appendApplicationTotals(out, accounting_.aggregator().applicationTotals());
  if (outputs_) outputs_->appendMetrics(out);
  server_->appendMetrics(out);
  return out.take();
}

int Daemon::run() {
  auto lock = lockInstance(cfg_.table);
  if (!lock) {
    log::error("start_failed", {{"error", lock.error().message()}});
    return 1;
  }
  const int lock_fd = *lock;
  // Signals are handled synchronously by this thread; no other thread sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  if (auto r = holder_.reload(cfg_.policy_paths); !r) {
    for (const auto& e : r.errors()) log::error("policy_error", {{"error", policy::formatError(e)}});
    ::close(lock_fd);
    return 1;
  }
  const auto summary = holder_.current()->summary();
  log::info("policy_loaded", {{"generation", holder_.current()->generation()},
                              {"rules", summary.rules},
                              {"sets", summary.sets},
                              {"routes", summary.routes}});

  auto cleanupKernel = [&] {
    if (kernel_ && kernel_->tableInstalled()) (void)nft_->deleteTable();
    if (kernel_) kernel_->removeRoutes();
  };
  bool ok = startKernel() && startWorkers() && startControl();
  // Every socket that needs privileges is open: drop them before any other
  // thread exists (capabilities are per thread; threads inherit them).
  if (ok && !cfg_.user.empty()) {
    if (auto d = dropPrivileges(cfg_.user); !d) {
      log::error("start_failed", {{"error", d.error().message()}});
      ok = false;
    } else {
      log::info("privileges_dropped", {{"user", cfg_.user}, {"capabilities", "CAP_NET_ADMIN"}});
    }
  }
  // The MQTT sinks' threads start after the privilege drop (they keep only
  // CAP_NET_ADMIN, like every thread after it; they use none).
  if (ok && !cfg_.mqtt_sinks.empty()) {
    outputs_ = std::make_unique<Outputs>(cfg_.mqtt_sinks, netifyOptions());
    if (auto o = outputs_->start(); !o) {
      log::error("start_failed", {{"error", o.error().message()}});
      ok = false;
    }
  }
  if (!ok) {
    cleanupKernel();
    ::close(lock_fd);
    return 1;
  }
  nft_->startWriter();
  log::setSink(&logToEvents, &log_events_);
  for (auto& w : workers_) threads_.emplace_back([this, wp = w.get()] { wp->run(stop_); });
  std::thread control([this] { io_.run(); });

  log::info("started", {{"queues", std::to_string(cfg_.queue_num) + "-" +
                                        std::to_string(cfg_.queue_num + cfg_.workers - 1)},
                        {"workers", cfg_.workers},
                        {"policy_generation", holder_.current()->generation()},
                        {"control_socket", cfg_.control_socket}});
  (void)cli::sdNotify("READY=1\nSTATUS=inspecting");

  while (true) {
    siginfo_t info{};
    timespec tick{1, 0};
    const int sig = sigtimedwait(&sigs, &info, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGUSR1) {
      if (events_file_) events_file_->requestReopen();
      log::info("events_file_reopen_requested", {});
    } else if (sig == SIGHUP) {
      (void)cli::sdNotify("RELOADING=1");
      std::promise<void> done;
      asio::post(io_, [&] {
        const ReloadResult r = reload();
        (void)cli::sdNotify(r.ok ? "READY=1\nSTATUS=inspecting" : "READY=1\nSTATUS=reload failed; previous policy in force");
        done.set_value();
      });
      done.get_future().wait();
    }
  }

  log::info("stopping", {});
  (void)cli::sdNotify("STOPPING=1");
  // Remove the queue rule first so nothing new is queued, then let the
  // workers answer what is still waiting.
  if (auto del = nft_->deleteTable(); !del) log::warn("nft_delete_failed", {{"error", del.error().message()}});
  kernel_->removeRoutes();
  stop_.store(true);
  for (auto& t : threads_) t.join();
  std::promise<void> closed;
  asio::post(io_, [&] {
    drainEvents();
    drain_timer_.cancel();
    dump_timer_.cancel();
    if (ct_fd_) ct_fd_->close();
    if (http_) http_->shutdown();
    server_->shutdown();
    closed.set_value();
  });
  closed.get_future().wait();
  io_.stop();
  control.join();
  log::setSink(nullptr, nullptr);
  if (outputs_) outputs_->stop(2000);
  const WorkerTotals totals = sumWorkers(workers_);
  KernelWriter& writer = *nft_->writer();
  writer.stop();
  log::info("stopped", {{"packets", totals.packets},
                        {"flows_decided", totals.decided},
                        {"set_elements_written", writer.written()},
                        {"set_elements_dropped", writer.dropped()},
                        {"set_elements_failed", writer.failed()},
                        {"events_dropped", events_.dropped()}});
  ::close(lock_fd);
  return 0;
}

}  // namespace

int run(const cli::Config& config, const policy::LoadOptions& options) {
  Daemon d(config, options);
  return d.run();
}

}  // namespace fg::daemon
