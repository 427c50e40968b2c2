// Worker: one NFQUEUE, one thread, one core::Engine (flow table + nDPI).
//
// Loop: receive a round of packets (block up to 100 ms for the first, then
// take what is already waiting), run each through the engine, send the
// round's verdicts (batched), then hand the round's set additions to the
// SetWriter: kernel writes never delay a verdict. Idle rounds run flow
// expiry. Nothing here blocks on anything but the queue socket.
// The engine returns what each packet did (core::ProcessResult); the worker
// turns a decision into set additions, a log line and the `decided` hand-off
// to the control thread, the only callbacks left: they cross threads.
// Threading: run() is the worker thread's body; counters are atomics read by
// the control thread. The heartbeat moves once per round (at least every
// ~100 ms when idle): the daemon's watchdog reads it from the main thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/histogram.h"
#include "gateway/core/engine.h"
#include "gateway/nfq/queue.h"

namespace fg::nfq {

struct SetElementRequest {
  std::string set;
  policy::IpAddress address;
  uint32_t timeout_s = 0;
};
using SetWriter = std::function<void(const std::vector<SetElementRequest>&)>;

// Observers run on the worker thread and must not block (e.g. encode and
// push into a bounded queue that drops when full).
struct WorkerObservers {
  // `in_interface`: where the flow's first packet came in ("" when unknown).
  std::function<void(const core::Flow&, const policy::Decision&, const policy::PolicySet&,
                     std::string_view in_interface)>
      decided;
  // A flow ended (EndedFlow: undecided ones carry their health figures).
  std::function<void(const core::EndedFlow&)> ended;
};

struct WorkerConfig {
  QueueConfig queue;
  core::EngineConfig engine;
  size_t max_round = 256;  // packets per receive round
  // The verdict of a packet whose processing failed (an exception), and of
  // every packet of a round that could not run to its end.
  core::FailureAction internal_error = core::FailureAction::Accept;
};

// Every worker counter, declared once. Each entry:
//   X(name, source, status_path, metric, label_key, label_value, type, help)
// name: the WorkerCounters field; source: where publishCounters() reads it
// (`e` = the engine's counters, `pipeline` = the engine's pipeline, or a
// member of the worker);
// status_path: JSON pointer in `flowgatectl status` ("" = not shown);
// metric: Prometheus family ("" = not exported), with an optional label;
// type: ctl::MetricType. Status, metrics and tests iterate this list, so a
// new counter is one line here (plus the code that counts it).
#define FG_WORKER_COUNTERS(X)                                                                                      \
  X(packets, e.packets, "/counters/packets", "flowgate_packets_total", "", "", Counter,                           \
    "Packets the workers received from the kernel queues")                                                         \
  X(decided, e.decided, "/counters/flows/decided", "", "", "", Counter, "")                                        \
  X(decided_accept, e.decided_accept, "/counters/verdicts/accept", "flowgate_flows_decided_total", "verdict",      \
    "accept", Counter, "Flows decided, by verdict")                                                                \
  X(decided_drop, e.decided_drop, "/counters/verdicts/drop", "flowgate_flows_decided_total", "verdict", "drop",    \
    Counter, "Flows decided, by verdict")                                                                          \
  X(decided_reject, e.decided_reject, "/counters/verdicts/reject", "flowgate_flows_decided_total", "verdict",      \
    "reject", Counter, "Flows decided, by verdict")                                                                \
  X(undecodable, e.undecodable, "", "", "", "", Counter, "")                                                       \
  X(flows_active, pipeline.table().size(), "/counters/flows/active", "flowgate_flows_active", "", "", Gauge,       \
    "Flows in the workers' flow tables")                                                                           \
  X(flows_evicted, pipeline.table().counters().evicted, "/counters/flows/evicted", "flowgate_flows_evicted_total", \
    "", "", Counter, "Flows evicted by the flow table cap")                                                        \
  X(decode_errors, pipeline.counters().decode_errors.total(), "/counters/decode_errors",                           \
    "flowgate_decode_errors_total", "", "", Counter, "Packets that could not be decoded (accepted unmarked)")       \
  X(early_answers, e.early_answers, "/hints/first_packet/early_answers", "", "", "", Counter, "")                  \
  X(first_packet_blocked, e.first_packet_blocked, "/hints/first_packet/blocked", "flowgate_first_packet_total",    \
    "action", "blocked", Counter, "Flows acted on at their first packet")                                          \
  X(first_packet_marked, e.first_packet_marked, "/hints/first_packet/marked", "flowgate_first_packet_total",       \
    "action", "marked", Counter, "Flows acted on at their first packet")                                           \
  X(kernel_bound, e.kernel_bound, "/hints/first_packet/kernel_bound", "flowgate_first_packet_total", "action",     \
    "kernel_bound", Counter, "Flows acted on at their first packet")                                               \
  X(observed, e.observed, "/hints/first_packet/dns_observed", "", "", "", Counter, "")                             \
  X(detection_updated, pipeline.counters().detection_updated, "/hints/first_packet/detection_updated",             \
    "flowgate_detection_updated_total", "", "", Counter, "Flows whose early answer DPI contradicted")               \
  X(internal_errors, internal_errors_, "/counters/internal_errors", "flowgate_internal_errors_total", "", "",      \
    Counter, "Packets whose processing failed; they got the failure.internal_error verdict")

// Published by the worker thread after each round, read by any thread.
struct WorkerCounters {
#define FG_DECLARE_WORKER_COUNTER(name, ...) std::atomic<uint64_t> name{0};
  FG_WORKER_COUNTERS(FG_DECLARE_WORKER_COUNTER)
#undef FG_DECLARE_WORKER_COUNTER
  // Counted by the worker itself (set elements handed to the kernel writer).
  std::atomic<uint64_t> set_elements{0};
};

class Worker final {
 public:
  Worker(int index, WorkerConfig config, std::unique_ptr<QueueSocket> socket,
         std::unique_ptr<core::Classifier> classifier, const policy::PolicyHolder& policy,
         SetWriter set_writer, WorkerObservers observers = {});
  ~Worker();

  // Runs until `stop` is set, then answers every packet still waiting.
  void run(const std::atomic<bool>& stop);

  // Runs `task` on the worker thread at its next round (within ~100 ms),
  // e.g. to read its flow table. Thread-safe; never blocks the worker.
  void post(std::function<void(const core::Engine&)> task);

  const WorkerCounters& counters() const { return counters_; }
  // Rounds completed so far; moves at least every ~100 ms while the worker
  // makes progress (the systemd watchdog feeds on it).
  uint64_t heartbeat() const { return heartbeat_.load(std::memory_order_relaxed); }
  // Test hook (FLOWGATE_TEST_HOOKS=1 only, see the daemon): while set, the
  // worker thread runs no round (no packets, no heartbeat), as if it hung.
  void stallForTest(bool stall) { stalled_for_test_.store(stall, std::memory_order_relaxed); }
  bool stalledForTest() const { return stalled_for_test_.load(std::memory_order_relaxed); }
  // Time from the kernel's queueing of a packet to its verdict, µs (packets
  // with a kernel timestamp: QueueConfig::timestamps). Any thread.
  Histogram verdictLatency() const { return shared_latency_.snapshot(); }
  QueueSocket& socket() { return *socket_; }
  int index() const { return index_; }

 private:
  void handle(const QueuedPacket& qp, VerdictEntry& slot);
  void onInternalError(VerdictEntry& slot, const char* what);
  void onDecision(const core::DecisionEvent& e);
  void onFlowsEnded(const std::vector<core::EndedFlow>& ended);

  void round(int timeout_ms);
  std::string_view interfaceName(uint32_t ifindex);
  void publishCounters();
  void runPosted();

  int index_;
  WorkerConfig config_;
  std::unique_ptr<QueueSocket> socket_;
  std::unique_ptr<core::Classifier> classifier_;
  core::SystemClock clock_;
  core::Engine engine_;
  SetWriter set_writer_;
  WorkerObservers observers_;
  std::mutex inbox_mu_;
  std::vector<std::function<void(const core::Engine&)>> inbox_;
  std::atomic<bool> inbox_pending_{false};
  VerdictBatch batch_;
  std::vector<SetElementRequest> pending_sets_;
  std::unordered_map<uint32_t, std::string> ifnames_;
  WorkerCounters counters_;
  std::atomic<uint64_t> heartbeat_{0};
  std::atomic<bool> stalled_for_test_{false};
  uint64_t internal_errors_ = 0;  // this thread's; published with the others
  std::vector<core::Timestamp> round_stamps_;  // the kernel timestamps of this round's packets
  Histogram verdict_latency_;                  // this thread's
  SharedHistogram shared_latency_;             // published after each round
};

}  // namespace fg::nfq
