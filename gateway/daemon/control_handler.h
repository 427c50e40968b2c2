// The daemon's control handler: answers the control socket's requests
// (status, flows, flow, policy, reload, metrics, hint) from the daemon's
// parts, and renders the worker counters (FG_WORKER_COUNTERS) into the
// status JSON and the Prometheus exposition.
//
// What it never does: change state other than through Reloader::reload(),
// or read a worker's flow table from the control thread (flows are copied
// out on the worker's own thread, Worker::post()).
//
// Threading: every ControlHandler call on the control thread (the
// io_context's); worker counters are atomics.
#pragma once

#include <chrono>
#include <cstdint>
#include <istream>
#include <map>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "gateway/config.h"
#include "gateway/control/handler.h"
#include "gateway/control/metrics.h"
#include "gateway/control/netify_server.h"
#include "gateway/control/server.h"
#include "gateway/core/hints.h"
#include "gateway/daemon/accounting.h"
#include "gateway/daemon/event_router.h"
#include "gateway/daemon/kernel_side.h"
#include "gateway/daemon/kernel_writer.h"
#include "gateway/daemon/outputs.h"
#include "gateway/daemon/reload.h"
#include "gateway/nfq/queue_stats.h"
#include "gateway/nfq/worker.h"
#include "policy/policy.h"

namespace fg::daemon {

// The workers' counters added up (each worker publishes its own), one field
// per FG_WORKER_COUNTERS entry, plus the queues' receive buffer overruns.
struct WorkerTotals {
#define FG_TOTAL_FIELD(name, ...) uint64_t name = 0;
  FG_WORKER_COUNTERS(FG_TOTAL_FIELD)
#undef FG_TOTAL_FIELD
  uint64_t enobufs = 0;
};
WorkerTotals addUp(const std::vector<const nfq::WorkerCounters*>& workers);

// Writes every counter that has a status path into `status` (objects on the
// way are created).
void putWorkerStatus(nlohmann::json& status, const WorkerTotals& t);
// Appends every counter that has a metric, a family per metric name.
void appendWorkerMetrics(ctl::Exposition& out, const WorkerTotals& t);

// The live parts the handler reads (owned by the daemon; each must outlive
// the handler; `outputs` and `server` may still be null at construction).
struct ControlParts {
  const cli::Config& cfg;
  const policy::PolicyHolder& holder;
  const core::Hints& hints;
  const std::vector<std::unique_ptr<nfq::Worker>>& workers;
  Accounting& accounting;
  EventRouter& events;
  const NftOwner& nft;
  const PolicyKernel& kernel;
  Reloader& reloader;
  const std::unique_ptr<Outputs>& outputs;
  const std::unique_ptr<ctl::ControlServer>& server;
  bool conntrack_events = false;
  boost::asio::io_context& io;
  const std::unique_ptr<ctl::NetifyServer>* netify = nullptr;  // [output.netify_socket], may hold null
};

class DaemonControl final : public ctl::ControlHandler {
 public:
  explicit DaemonControl(ControlParts parts) : p_(parts), started_(std::chrono::steady_clock::now()) {}

  // ctl::ControlHandler
  nlohmann::json status() override;
  void flows(const ctl::FlowQuery& query, std::function<void(nlohmann::json)> done) override;
  void flow(const std::string& id, std::function<void(nlohmann::json)> done) override;
  nlohmann::json policy() override;
  ReloadResult reload() override;
  std::string metrics() override;
  HintResult hint(const std::string& address) override;

  WorkerTotals totals() const;

 private:
  nlohmann::json hintsStatus() const;
  // Lists flows of every worker matching `filter`; calls done(records).
  void collectFlows(const ctl::EventFilter& filter, std::function<bool(const core::Flow&)> pick,
                    std::function<void(std::vector<nlohmann::ordered_json>)> done);

  ControlParts p_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace fg::daemon
