// What each worker is given: its queue's and its engine's configuration,
// from the daemon's configuration (pure mapping, unit-tested).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "gateway/config.h"
#include "gateway/nfq/worker.h"

namespace fg::daemon {

// What every worker shares (owned by the daemon, outliving the workers).
struct WorkerShared {
  core::Hints* hints = nullptr;                         // DNS answers, learned servers
  const catalog::CatalogHolder* catalog = nullptr;      // the application catalog
  const core::AppRanges* app_ranges = nullptr;          // [verified_ranges]
};

// Worker `index` (0-based) reads queue `queue_num + index`; its flow ids are
// index + 1, index + 1 + workers, ... so they are unique across workers.
nfq::WorkerConfig workerConfig(const cli::Config& cfg, uint32_t index, const WorkerShared& shared);

// SIGUSR2 with FLOWGATE_TEST_HOOKS=1 (tests only): stops worker 0's loop, or
// lets it run again, so a test can watch the watchdog pings stop and resume.
// Refused (logged) when the hooks were not enabled at start.
void toggleTestStall(std::vector<std::unique_ptr<nfq::Worker>>& workers, bool hooks_enabled);

}  // namespace fg::daemon
