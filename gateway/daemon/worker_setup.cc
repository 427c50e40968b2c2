#include "gateway/daemon/worker_setup.h"

#include "common/log.h"

namespace fg::daemon {

nfq::WorkerConfig workerConfig(const cli::Config& cfg, uint32_t index, const WorkerShared& shared) {
  nfq::QueueConfig qc{.queue_num = static_cast<uint16_t>(cfg.queue_num + index),
                      .max_len = cfg.queue_max_len,
                      .rcvbuf_bytes = cfg.socket_buffer,
                      .copy_range = 0xffff,
                      .fail_open = cfg.failure.queue_full == core::FailureAction::Accept,
                      .gso = true};
  core::EngineConfig ec;
  ec.pipeline.packet_budget = cfg.packet_budget;
  ec.pipeline.table.max_flows = cfg.max_flows;
  ec.pipeline.table.timeouts = cfg.timeouts;
  ec.pipeline.table.first_id = index + 1;
  ec.pipeline.table.id_step = cfg.workers;
  ec.pipeline.hints = shared.hints;
  ec.pipeline.catalog = shared.catalog;
  ec.pipeline.app_ranges = shared.app_ranges;
  ec.marks = cfg.marks;
  ec.undecodable = cfg.failure.undecodable;
  ec.keep_first_route = cfg.keep_first_route;
  return nfq::WorkerConfig{.queue = qc, .engine = ec, .max_round = 256, .internal_error = cfg.failure.internal_error};
}

void toggleTestStall(std::vector<std::unique_ptr<nfq::Worker>>& workers, bool hooks_enabled) {
  if (!hooks_enabled || workers.empty()) {
    log::warn("test_hook_refused", {{"signal", "SIGUSR2"}, {"detail", "flowgate was not started with FLOWGATE_TEST_HOOKS=1"}});
    return;
  }
  nfq::Worker& w = *workers.front();
  w.stallForTest(!w.stalledForTest());
  log::warn("test_worker_stall", {{"worker", w.index()}, {"stalled", w.stalledForTest() ? "yes" : "no"}});
}

}  // namespace fg::daemon
