// Worker: one NFQUEUE, one thread, one core::Engine (flow table + nDPI).
//
// Loop: receive a round of packets (block up to 100 ms for the first, then
// take what is already waiting), run each through the engine, send the
// round's verdicts (batched), then hand the round's set additions to the
// SetWriter: kernel writes never delay a verdict. Idle rounds run flow
// expiry. Nothing here blocks on anything but the queue socket.
// Threading: run() is the worker thread's body; counters are atomics read by
// the control thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

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
  std::function<void(const core::Flow&, core::EndReason)> ended;
};

struct WorkerConfig {
  QueueConfig queue;
  core::EngineConfig engine;
  size_t max_round = 256;  // packets per receive round
};

struct WorkerCounters {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> decided{0};
  std::atomic<uint64_t> decided_accept{0}, decided_drop{0}, decided_reject{0};
  std::atomic<uint64_t> undecodable{0};
  std::atomic<uint64_t> flows_active{0};
  std::atomic<uint64_t> flows_evicted{0};
  std::atomic<uint64_t> decode_errors{0};
  std::atomic<uint64_t> set_elements{0};
  // first-packet decisions
  std::atomic<uint64_t> early_answers{0}, first_packet_blocked{0}, first_packet_marked{0};
  std::atomic<uint64_t> kernel_bound{0}, observed{0}, detection_updated{0};
};

class Worker final : private core::DecisionSink {
 public:
  Worker(int index, WorkerConfig config, std::unique_ptr<QueueSocket> socket,
         std::unique_ptr<core::Classifier> classifier, const policy::PolicyHolder& policy,
         SetWriter set_writer, WorkerObservers observers = {});
  ~Worker() override;

  // Runs until `stop` is set, then answers every packet still waiting.
  void run(const std::atomic<bool>& stop);

  // Runs `task` on the worker thread at its next round (within ~100 ms),
  // e.g. to read its flow table. Thread-safe; never blocks the worker.
  void post(std::function<void(const core::Engine&)> task);

  const WorkerCounters& counters() const { return counters_; }
  QueueSocket& socket() { return *socket_; }
  int index() const { return index_; }

 private:
  // core::DecisionSink
  void onDecision(const core::Flow& flow, const policy::Decision& decision,
                  const policy::PolicySet& policy) override;
  void onFlowEnd(const core::Flow& flow, core::EndReason reason) override;

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
};

}  // namespace fg::nfq
