#include "gateway/daemon/worker_setup.h"

#include <gtest/gtest.h>

namespace fg::daemon {
namespace {

TEST(WorkerSetup, EachWorkerGetsItsQueueAndUniqueFlowIds) {
  cli::Config cfg;
  cfg.queue_num = 10;
  cfg.workers = 3;
  cfg.packet_budget = 16;
  core::Hints hints{core::HintsConfig{}};
  const WorkerShared shared{.hints = &hints, .catalog = nullptr, .app_ranges = nullptr};
  const nfq::WorkerConfig w2 = workerConfig(cfg, 2, shared);
  EXPECT_EQ(w2.queue.queue_num, 12);
  EXPECT_EQ(w2.engine.pipeline.table.first_id, 3u);
  EXPECT_EQ(w2.engine.pipeline.table.id_step, 3u) << "ids 3, 6, 9, ...: never another worker's";
  EXPECT_EQ(w2.engine.pipeline.packet_budget, 16);
  EXPECT_EQ(w2.engine.pipeline.hints, &hints);
}

TEST(WorkerSetup, FailureActionsReachTheQueueTheEngineAndTheWorker) {
  cli::Config cfg;
  EXPECT_TRUE(workerConfig(cfg, 0, {}).queue.fail_open) << "default: fail open";
  cfg.failure.queue_full = core::FailureAction::Drop;
  cfg.failure.undecodable = core::FailureAction::Drop;
  cfg.failure.internal_error = core::FailureAction::Drop;
  const nfq::WorkerConfig w = workerConfig(cfg, 0, {});
  EXPECT_FALSE(w.queue.fail_open);
  EXPECT_EQ(w.engine.undecodable, core::FailureAction::Drop);
  EXPECT_EQ(w.internal_error, core::FailureAction::Drop);
}

}  // namespace
}  // namespace fg::daemon
