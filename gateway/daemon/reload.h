// The reload pipeline: prepare what reloads with the policy (the
// application catalog, a ReloadCompanion), parse the policy once, validate it (the policy's own
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
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/engine.h"
#include "gateway/daemon/kernel_side.h"
#include "policy/policy.h"

namespace fg::daemon {

// The policy's mark bits must lie inside the configured value mask, or the
// kernel would see bits flowgate does not own. One line per offending class or route.
std::vector<std::string> checkMarks(const policy::PolicySet& p, const core::MarkLayout& m);

// Logs what `policy check` warns about a policy that loads (policy_warning lines).
void logPolicyWarnings(const policy::PolicySet& p);

struct ReloadOutcome {
  bool ok = false;
  uint64_t generation = 0;          // in force afterwards (the old one on failure)
  std::vector<std::string> errors;  // every error; empty when ok
};

// Something that reloads with the policy, all or nothing (the application
// catalog): prepare() before the policy is loaded (the policy may name what
// it prepared; returns every error, empty when prepared), then commit() when
// the whole reload succeeded or rollback() when it did not.
struct ReloadCompanion {
  std::function<std::vector<std::string>()> prepare;
  std::function<void()> commit;
  std::function<void()> rollback;
};

class Reloader {
 public:
  // Loads the policy's files as generation `generation` (the seam for tests).
  using Load = std::function<policy::LoadResult<std::shared_ptr<const policy::PolicySet>>(uint64_t generation)>;

  Reloader(Load load, core::MarkLayout marks, policy::PolicyHolder& holder, KernelSide& kernel,
           std::optional<ReloadCompanion> companion = std::nullopt)
      : load_(std::move(load)), marks_(marks), holder_(holder), kernel_(kernel), companion_(std::move(companion)) {}

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
  std::optional<ReloadCompanion> companion_;
  mutable std::mutex mu_;
  uint64_t ok_ = 0, failed_ = 0;
  std::chrono::system_clock::time_point loaded_at_ = std::chrono::system_clock::now();
};

}  // namespace fg::daemon
