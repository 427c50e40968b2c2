// The kernel side of a policy: flowgate's nft table (chains, rules, the
// policy's named sets) and its policy routes (fwmark rules and the route
// classes' tables).
//
// What it does: KernelSide::apply() moves the kernel from the state of the
// policy in force to that of the next one, all or nothing: the new routes
// and rules are made beside the old ones, the nft table is replaced in one
// transaction (only when the sets changed: a replace empties every set),
// and only then is what the old policy alone needed removed. On error
// nothing has changed.
//
// What it never does: touch the packet path (set elements are KernelWriter's)
// or decide whether a policy is valid (the reload pipeline does, before).
//
// Threading: one caller at a time (start-up, then the control thread).
//
// Error convention: fg::Result; the error's context names every failing
// step ("route 'x': ip route: ...; nft table: ...").
#pragma once

#include <functional>
#include <memory>

#include "common/result.h"
#include "gateway/config.h"
#include "gateway/daemon/policy_routes.h"
#include "netlink/nft.h"
#include "policy/policy.h"

namespace fg::daemon {

class KernelSide {
 public:
  virtual ~KernelSide() = default;
  // Precondition: `next` is valid for this gateway (its marks fit the
  // configured layout). On error the old state is still complete in the
  // kernel and the error lists what failed.
  [[nodiscard]] virtual Result<void> apply(const policy::PolicySet& next) = 0;
};

// The ct mark bits a kernel-bound set gives the first packet of a new flow
// to one of its addresses: route/class value bits (provisional: the flow is
// still inspected), or decided + drop/reject (blocked in the kernel).
uint32_t setBindBits(const policy::SetInfo& s, const core::MarkLayout& m);

// The nft table flowgate installs for policy `p`.
nl::NftTableSpec tableSpec(const cli::Config& cfg, const policy::PolicySet& p, nl::QueueMode mode);

// KernelSide over two seams: the nft table writer and a RoutingTable.
class PolicyKernel final : public KernelSide {
 public:
  // Creates (replace = false) or replaces (true) the nft table.
  using InstallTable = std::function<Result<void>(const nl::NftTableSpec&, bool replace)>;

  PolicyKernel(cli::Config cfg, nl::QueueMode mode, InstallTable install_table, std::unique_ptr<RoutingTable> routing)
      : cfg_(std::move(cfg)), mode_(mode), install_table_(std::move(install_table)),
        routes_(std::move(routing), cfg_.rule_priority) {}

  // Start-up: creates the table and the routes of `initial`. On error the
  // caller removes the table (removeAll()).
  [[nodiscard]] Result<void> install(const policy::PolicySet& initial);
  // KernelSide
  Result<void> apply(const policy::PolicySet& next) override;
  // Shutdown: removes the routes (the table is the caller's, with its socket).
  void removeRoutes() { routes_.remove(); }

  bool tableInstalled() const { return !table_.table.empty(); }
  nl::QueueMode queueMode() const { return mode_; }
  const nl::NftTableSpec& table() const { return table_; }
  const RoutingState& routing() const { return routes_.current(); }

 private:
  const cli::Config cfg_;
  const nl::QueueMode mode_;
  InstallTable install_table_;
  PolicyRoutes routes_;
  nl::NftTableSpec table_;  // as installed
};

}  // namespace fg::daemon
