#include "gateway/nfq/worker.h"

#include <net/if.h>

#include <chrono>
#include <thread>

#include "common/log.h"
#include "gateway/core/tcp_reset.h"
#include "gateway/output/record_json.h"

namespace fg::nfq {
namespace {

// "10.0.0.1:443", "[fd00::1]:443": unambiguous for IPv6.
std::string endpoint(const core::IpAddress& a, uint16_t port) {
  return a.version == 6 ? "[" + a.toString() + "]:" + std::to_string(port)
                        : a.toString() + ":" + std::to_string(port);
}

}  // namespace

Worker::Worker(int index, WorkerConfig config, std::unique_ptr<QueueSocket> socket,
               std::unique_ptr<core::Classifier> classifier, const policy::PolicyHolder& policy,
               SetWriter set_writer, WorkerObservers observers)
    : index_(index), config_(config), socket_(std::move(socket)),
      classifier_(std::move(classifier)),
      engine_(config.engine, *classifier_, clock_, policy),
      set_writer_(std::move(set_writer)),
      observers_(std::move(observers)),
      batch_(config.queue.queue_num,
             VerdictEntry{.id = 0,
                          .verdict = config.internal_error == core::FailureAction::Accept ? Verdict::Accept : Verdict::Drop,
                          .mark = std::nullopt,
                          .payload = {}}) {
  round_stamps_.reserve(config_.max_round);
}

Worker::~Worker() = default;

std::string_view Worker::interfaceName(uint32_t ifindex) {
  if (ifindex == 0) return {};
  auto it = ifnames_.find(ifindex);
  if (it != ifnames_.end()) return it->second;
  char buf[IF_NAMESIZE] = {};
  std::string name = if_indextoname(ifindex, buf) ? buf : "";
  if (ifnames_.size() > 4096) ifnames_.clear();  // interfaces come and go
  return ifnames_.emplace(ifindex, std::move(name)).first->second;
}

void Worker::round(int timeout_ms) {
  round_stamps_.clear();
  {
    // Every packet entered below gets its verdict when this scope ends.
    VerdictScope scope(*socket_, batch_);
    auto got = socket_->receive(timeout_ms, config_.max_round, [&](const QueuedPacket& qp) {
      VerdictEntry& slot = scope.batch().add(qp.id);
      if (qp.ts) round_stamps_.push_back(qp.ts);
      // A packet whose processing throws keeps the failure verdict the batch
      // entered it with ([failure] internal_error); the worker goes on.
      try {
        handle(qp, slot);
      } catch (const std::exception& e) {
        onInternalError(slot, e.what());
      }
    });
    if (!got) {
      static log::RateLimit limit(5);
      uint64_t suppressed = 0;
      if (limit.allow(suppressed))
        log::error("queue_receive_failed", {{"queue", config_.queue.queue_num},
                                            {"error", got.error().message()},
                                            {"suppressed", suppressed}});
    } else if (*got == 0) {
      onFlowsEnded(engine_.expireIdle());
    }
  }
  // The verdicts are sent: each packet's time from the kernel's queueing
  // (its timestamp) to here.
  if (!round_stamps_.empty()) {
    const core::Timestamp sent = clock_.now();
    for (const core::Timestamp ts : round_stamps_) verdict_latency_.record(sent > ts ? static_cast<uint64_t>(sent - ts) : 0);
    shared_latency_.publish(verdict_latency_);
  }
  if (!pending_sets_.empty()) {
    if (set_writer_) set_writer_(pending_sets_);
    counters_.set_elements.fetch_add(pending_sets_.size(), std::memory_order_relaxed);
    pending_sets_.clear();
  }
  publishCounters();
  runPosted();
  heartbeat_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::handle(const QueuedPacket& qp, VerdictEntry& slot) {
  const core::Timestamp ts = qp.ts ? qp.ts : clock_.now();
  core::PacketContext ctx{.mark = qp.mark,
                          .in_ifindex = qp.in_ifindex,
                          .in_interface = interfaceName(qp.in_ifindex),
                          .out_interface = interfaceName(qp.out_ifindex),
                          .src_mac = qp.has_hw_src ? std::optional(qp.hw_src) : std::nullopt};
  const core::ProcessResult r = engine_.process(qp.payload, ts, ctx);
  const core::PacketVerdict& v = r.verdict;
  if (r.decided) onDecision(*r.decided);
  if (!r.ended.empty()) onFlowsEnded(r.ended);
  slot.verdict = v.accept ? Verdict::Accept : Verdict::Drop;
  slot.mark = v.mark;
  if (v.rewrite_as_reset && !core::rewriteAsTcpReset(qp.payload, slot.payload)) slot.payload.clear();
}

void Worker::onInternalError(VerdictEntry& slot, const char* what) {
  const VerdictEntry failure = batch_.failure();
  slot.verdict = failure.verdict;
  slot.mark = failure.mark;
  slot.payload.clear();
  ++internal_errors_;
  static log::RateLimit limit(5);
  uint64_t suppressed = 0;
  if (limit.allow(suppressed))
    log::error("packet_processing_failed", {{"queue", config_.queue.queue_num},
                                            {"error", what},
                                            {"verdict", failure.verdict == Verdict::Accept ? "accept" : "drop"},
                                            {"suppressed", suppressed}});
}

void Worker::post(std::function<void(const core::Engine&)> task) {
  std::lock_guard lock(inbox_mu_);
  inbox_.push_back(std::move(task));
  inbox_pending_.store(true, std::memory_order_release);
}

void Worker::runPosted() {
  if (!inbox_pending_.load(std::memory_order_acquire)) return;
  std::vector<std::function<void(const core::Engine&)>> tasks;
  {
    std::lock_guard lock(inbox_mu_);
    tasks.swap(inbox_);
    inbox_pending_.store(false, std::memory_order_relaxed);
  }
  for (auto& t : tasks) t(engine_);
}

void Worker::run(const std::atomic<bool>& stop) {
  log::info("worker_started", {{"worker", index_}, {"queue", config_.queue.queue_num}});
  while (!stop.load(std::memory_order_relaxed)) {
    if (stalled_for_test_.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    round(100);
  }
  // Answer what is still queued (the queue rule is gone by now).
  for (int i = 0; i < 50; ++i) {
    const uint64_t before = socket_->counters().received.load();
    round(0);
    if (socket_->counters().received.load() == before) break;
  }
  onFlowsEnded(engine_.finish(core::EndReason::Shutdown));
  publishCounters();
  runPosted();
  log::info("worker_stopped", {{"worker", index_}, {"packets", counters_.packets.load()}});
}

void Worker::publishCounters() {
  const core::EngineCounters& e = engine_.counters();
  const core::Pipeline& pipeline = engine_.pipeline();
#define FG_PUBLISH_WORKER_COUNTER(name, source, ...) counters_.name.store(source, std::memory_order_relaxed);
  FG_WORKER_COUNTERS(FG_PUBLISH_WORKER_COUNTER)
#undef FG_PUBLISH_WORKER_COUNTER
}

void Worker::onDecision(const core::DecisionEvent& e) {
  const core::Flow& flow = *e.flow;
  const policy::Decision& d = e.decision;
  const policy::PolicySet& policy = *e.policy;
  for (const policy::SetAddition& add : d.setAdditions()) {
    const policy::SetInfo& set = policy.sets()[add.set];
    pending_sets_.push_back({set.name, add.address, set.timeout_s});
  }
  if (observers_.decided) observers_.decided(flow, d, policy, interfaceName(flow.in_ifindex));
  if (d.unverified_count > 0) {
    // A rule matched on a name nothing backs (a forged SNI/Host, or a client
    // whose DNS the gateway never saw): set aside; counted per rule.
    static log::RateLimit limit(5);
    uint64_t suppressed = 0;
    if (limit.allow(suppressed))
      log::warn("unverified_name", {{"flow", flow.id},
                                    {"src", endpoint(flow.src, flow.src_port)},
                                    {"dst", endpoint(flow.dst, flow.dst_port)},
                                    {"hostname", output::safeString(flow.cls.hostname)},
                                    {"app", output::safeString(flow.cls.application)},
                                    {"rule", std::string(policy.ruleName(d.unverified_rules[0]))},
                                    {"suppressed", suppressed}});
  }
  if (d.log || log::level() <= log::Level::Debug) {
    log::write(d.log ? log::Level::Info : log::Level::Debug, "flow_decided",
               {{"flow", flow.id},
                {"worker", index_},
                {"src", endpoint(flow.src, flow.src_port)},
                {"dst", endpoint(flow.dst, flow.dst_port)},
                {"proto", core::protoName(flow.proto)},
                {"app", output::safeString(flow.cls.application)},
                {"hostname", output::safeString(flow.cls.hostname)},
                {"verdict", policy::toString(d.verdict)},
                {"rule", d.rule == policy::Decision::kNone ? std::string("(default)")
                                                            : std::string(policy.ruleName(d.rule))},
                {"mark", flow.decision.mark_bits},
                {"dpi_packets", flow.dpi_packets},
                {"first_packet", flow.decision.first_packet},
                {"early", flow.early ? std::string(core::toString(flow.early->source)) : std::string("-")}});
  }
}

void Worker::onFlowsEnded(const std::vector<core::EndedFlow>& ended) {
  if (observers_.ended)
    for (const core::EndedFlow& f : ended) observers_.ended(f);
  if (log::level() > log::Level::Debug) return;
  for (const core::EndedFlow& f : ended)
    log::debug("flow_end", {{"flow", f.id},
                            {"worker", index_},
                            {"reason", core::toString(f.reason)},
                            {"packets", f.packets},
                            {"bytes", f.bytes}});
}

}  // namespace fg::nfq
