#include "gateway/daemon/reload.h"

#include <cstdio>

#include "common/log.h"

namespace fg::daemon {

std::vector<std::string> checkMarks(const policy::PolicySet& p, const core::MarkLayout& m) {
  std::vector<std::string> errors;
  char buf[160];
  for (const auto& c : p.classes())
    if (c.mark & ~m.value_mask) {
      std::snprintf(buf, sizeof buf, "class '%s': mark 0x%x lies outside [marks] value_mask 0x%x",
                    c.name.c_str(), c.mark, m.value_mask);
      errors.emplace_back(buf);
    }
  for (const auto& r : p.routes())
    if ((r.fwmark | r.fwmark_mask) & ~m.value_mask) {
      std::snprintf(buf, sizeof buf, "route '%s': fwmark 0x%x/0x%x lies outside [marks] value_mask 0x%x",
                    r.name.c_str(), r.fwmark, r.fwmark_mask, m.value_mask);
      errors.emplace_back(buf);
    }
  return errors;
}

void logPolicyWarnings(const policy::PolicySet& p) {
  for (const auto& w : p.warnings()) log::warn("policy_warning", {{"warning", policy::formatError(w)}});
}

ReloadOutcome Reloader::reload() {
  std::lock_guard lock(mu_);
  ReloadOutcome out;
  const auto old = holder_.current();
  // 0. What reloads with the policy (the policy may name what it brings).
  if (companion_) out.errors = companion_->prepare();
  const bool companion_prepared = companion_ && out.errors.empty();
  // 1. Parse once: the snapshot checked below is the one installed.
  std::shared_ptr<const policy::PolicySet> next;
  if (!out.errors.empty()) {
    // the companion's errors are reported; the policy is not loaded
  } else if (auto loaded = load_(holder_.nextGeneration()); !loaded.ok()) {
    for (const auto& e : loaded.errors()) out.errors.push_back(policy::formatError(e));
  } else {
    next = std::move(loaded).value();
    // 2. Validate what the gateway adds to the policy's own checks.
    out.errors = checkMarks(*next, marks_);
  }
  // 3. The kernel: all or nothing.
  if (out.errors.empty()) {
    if (auto k = kernel_.apply(*next); !k) out.errors.push_back("kernel: " + k.error().message());
  }
  if (!out.errors.empty()) {
    if (companion_prepared) companion_->rollback();
    ++failed_;
    for (const auto& e : out.errors) log::error("policy_error", {{"error", e}});
    log::error("reload_failed", {{"kept_generation", old->generation()}});
    out.generation = old->generation();
    return out;
  }
  // 4. The snapshot: workers see the new policy (and catalog) from their
  // next packet on.
  if (companion_) companion_->commit();
  out.generation = next->generation();
  logPolicyWarnings(*next);
  holder_.publish(std::move(next));
  loaded_at_ = std::chrono::system_clock::now();
  ++ok_;
  log::info("policy_reloaded", {{"generation", out.generation}});
  out.ok = true;
  return out;
}

uint64_t Reloader::reloadsOk() const {
  std::lock_guard lock(mu_);
  return ok_;
}

uint64_t Reloader::reloadsFailed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

std::chrono::system_clock::time_point Reloader::loadedAt() const {
  std::lock_guard lock(mu_);
  return loaded_at_;
}

}  // namespace fg::daemon
