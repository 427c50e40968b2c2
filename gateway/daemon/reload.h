// The reload pipeline: parse the policy once, validate it (the policy's own
// rules, then what this gateway adds: its mark bits must fit the configured
// layout), apply it to the kernel, and only then install it as the snapshot
// the workers read. If any step fails, nothing has changed (KernelSide::apply
// is all or nothing), the old snapshot stays in force, and every error is
// returned: the control socket's `reload` shows them, SIGHUP logs them.
//
// Threading: reload() may be called from any thread; calls are serialised.
// Readers of the snapshot never wait (PolicyHolder).
//
// Error convention: errors are returned as located text lines, never thrown.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/core/engine.h"
#include "gateway/daemon/kernel_side.h"
#include "policy/policy.h"

namespace fg::daemon {

// The policy's mark bits must lie inside the configured value mask, or the
// kernel would see bits flowgate does not own. One line per offending class or route.
std::vector<std::string> checkMarks(const policy::PolicySet& p, const core::MarkLayout& m);

struct ReloadOutcome {
  bool ok = false;
  uint64_t generation = 0;          // in force afterwards (the old one on failure)
  std::vector<std::string> errors;  // every error; empty when ok
};

class Reloader {
 public:
  // Loads the policy's files as generation `generation` (the seam for tests).
  using Load = std::function<policy::LoadResult<std::shared_ptr<const policy::PolicySet>>(uint64_t generation)>;

  Reloader(Load load, core::MarkLayout marks, policy::PolicyHolder& holder, KernelSide& kernel)
      : load_(std::move(load)), marks_(marks), holder_(holder), kernel_(kernel) {}

  ReloadOutcome reload();

  uint64_t reloadsOk() const;
  uint64_t reloadsFailed() const;
  // When the snapshot in force was installed by reload() (or construction).
  std::chrono::system_clock::time_point loadedAt() const;

 private:
  Load load_;
  const core::MarkLayout marks_;
  policy::PolicyHolder& holder_;
  KernelSide& kernel_;
  mutable std::mutex mu_;
  uint64_t ok_ = 0, failed_ = 0;
  std::chrono::system_clock::time_point loaded_at_ = std::chrono::system_clock::now();
};

}  // namespace fg::daemon
