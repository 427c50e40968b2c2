// The policy routes flowgate owns: one `ip rule fwmark M/MASK lookup T` per
// route class (behind one `lookup main suppress_prefixlength 0`) and the
// route each class puts in its table.
//
// What it does: turns a PolicySet into the rules and routes it needs and
// moves the kernel from the state it installed before to that one, make
// before break: prepare() adds the new rules and routes beside the old ones
// (a route replaces the old route of the same table slot), commit() then
// removes what only the old state had, abort() puts back what prepare()
// changed. A routed flow therefore never finds its table empty during a
// reload, and a failed reload leaves the old rules and routes as they were.
//
// What it never does: talk to the kernel itself (every message goes through
// the RoutingTable seam), or touch rules and routes it did not install.
//
// Threading: one caller at a time (start-up, the control thread's reloads,
// shutdown).
//
// Error convention: fg::Result; prepare() tries every route and reports
// every failure in one Error (no code; context: each failure with its own
// error text, joined by "; ").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "netlink/rtnl.h"
#include "netlink/socket.h"
#include "policy/policy.h"

namespace fg::daemon {

// Seam where the routing state of the kernel starts. The real one sends
// rtnetlink messages (NetlinkRouting); tests keep the state in memory.
class RoutingTable {
 public:
  virtual ~RoutingTable() = default;
  // Add (EEXIST when an identical rule exists) or Delete one rule.
  [[nodiscard]] virtual Result<void> rule(nl::RtnlOp op, const nl::RuleSpec& rule) = 0;
  // Replace (create or overwrite the route of the same table slot) or Delete one route.
  [[nodiscard]] virtual Result<void> route(nl::RtnlOp op, const nl::RouteSpec& route) = 0;
  [[nodiscard]] virtual Result<uint32_t> interfaceIndex(std::string_view name) = 0;
};

// RoutingTable over a NETLINK_ROUTE socket.
class NetlinkRouting final : public RoutingTable {
 public:
  explicit NetlinkRouting(nl::NlSocket sock) : sock_(std::move(sock)) {}
  // RoutingTable
  Result<void> rule(nl::RtnlOp op, const nl::RuleSpec& rule) override;
  Result<void> route(nl::RtnlOp op, const nl::RouteSpec& route) override;
  Result<uint32_t> interfaceIndex(std::string_view name) override;

 private:
  nl::NlSocket sock_;
};

// What a policy asks of the routing state.
struct RoutingState {
  struct Route {
    std::string owner;  // the route class, for error messages
    nl::RouteSpec spec;
    // An IPv6 default via a device without IPv6 is not fatal.
    bool may_fail = false;
  };
  std::vector<nl::RuleSpec> rules;
  std::vector<Route> routes;
};

// The rules and routes of `p`, rule priorities from `priority_base` on.
// Fails when a route names an interface that does not exist or its next hops
// do not plan (two of one family: netlink/rtnl.h planRouteClass).
[[nodiscard]] Result<RoutingState> routingStateOf(const policy::PolicySet& p, uint32_t priority_base,
                                                  RoutingTable& table);

class PolicyRoutes {
 public:
  PolicyRoutes(std::unique_ptr<RoutingTable> table, uint32_t priority_base)
      : table_(std::move(table)), priority_base_(priority_base) {}
  PolicyRoutes(const PolicyRoutes&) = delete;
  PolicyRoutes& operator=(const PolicyRoutes&) = delete;

  // Installs the state of `next` beside the current one. On error every
  // change is undone and the error lists each failing rule or route.
  // Precondition: no prepare() pending.
  [[nodiscard]] Result<void> prepare(const policy::PolicySet& next);
  // Makes the prepared state current: removes the rules and routes only the
  // old state had (a failure to remove one is logged, not returned: the new
  // state is in force either way).
  void commit();
  // Undoes the pending prepare(); the old state stays current.
  void abort();
  // Removes every rule and route installed (shutdown).
  void remove();

  const RoutingState& current() const { return current_; }

 private:
  // Puts back the old route of each slot prepare() replaced, deletes the rest.
  void undo(const std::vector<nl::RouteSpec>& replaced, const std::vector<nl::RuleSpec>& added);

  std::unique_ptr<RoutingTable> table_;
  uint32_t priority_base_;
  RoutingState current_;
  std::optional<RoutingState> pending_;
  std::vector<nl::RouteSpec> replaced_;    // routes prepare() wrote
  std::vector<nl::RuleSpec> added_rules_;  // rules prepare() created
};

// Field-wise equality of the netlink specs (the kernel's identity of a rule;
// a route's table slot: family, table, destination, metric).
bool sameRule(const nl::RuleSpec& a, const nl::RuleSpec& b);
bool sameRouteSlot(const nl::RouteSpec& a, const nl::RouteSpec& b);
bool sameRoute(const nl::RouteSpec& a, const nl::RouteSpec& b);

}  // namespace fg::daemon
