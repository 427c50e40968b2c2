// fg::nl rtnetlink adapter: fwmark policy routing as message values.
//
// What it does: builds RTM_NEWRULE/RTM_DELRULE messages ("fwmark M/MASK
// lookup TABLE priority P") and RTM_NEWROUTE/RTM_DELROUTE messages for the
// per-class routing tables, so `route = "..."` classes in a policy steer
// decided flows whose packet mark the nft `pre` chain restored from the
// conntrack mark (see netlink/nft.h, docs/kernel.md). Send them with
// NlSocket::request() on a NETLINK_ROUTE socket.
//
// What it never does: send, read the routing state, or touch rules/routes
// it was not asked to build. Routes and rules are configured at start and
// reload, never per flow.
//
// Threading: builders are pure and reentrant. interfaceIndex() calls
// if_nametoindex() (an ioctl), fine at start/reload, not on the packet path.
//
// Error convention: fg::Result; builders fail only on invalid input
// (std::errc::invalid_argument with the field named).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fg::nl {

enum class RtnlOp {
  Add,      // NLM_F_CREATE | NLM_F_EXCL: fails with EEXIST if identical exists
  Replace,  // routes only: NLM_F_CREATE | NLM_F_REPLACE (idempotent install on reload)
  Delete,
};

enum class IpFamily { V4, V6 };

struct RouteAddress {
  IpFamily family = IpFamily::V4;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4
  [[nodiscard]] static Result<RouteAddress> parse(std::string_view text);
};

struct RuleSpec {
  IpFamily family = IpFamily::V4;
  uint32_t fwmark = 0;
  uint32_t fwmask = 0xffffffff;
  uint32_t table = 0;     // 1..0xffffffff, not 0 (RT_TABLE_UNSPEC)
  uint32_t priority = 0;  // FRA_PRIORITY; 0 lets the kernel choose (avoid: deletes become ambiguous)
  // FRA_SUPPRESS_PREFIXLEN: ignore a result from `table` whose prefix is this
  // long or shorter (-1: attribute absent). `lookup main suppress_prefixlength
  // 0` placed before fwmark rules keeps every specific route of the main table
  // (the LAN!) and lets the fwmark rules override only the default route.
  int32_t suppress_prefixlen = -1;
};

struct RouteSpec {
  IpFamily family = IpFamily::V4;
  uint32_t table = 0;
  std::optional<RouteAddress> gateway{};
  std::optional<uint32_t> oif{};     // interface index (interfaceIndex())
  std::optional<RouteAddress> dst{}; // absent: default route
  uint8_t dst_len = 0;
  uint32_t metric = 0;               // RTA_PRIORITY, 0 = none
};

// One RTM_NEWRULE/RTM_DELRULE message: `ip rule add fwmark M/MASK lookup T pref P`.
[[nodiscard]] Result<std::vector<uint8_t>> buildRuleMessage(RtnlOp op, const RuleSpec& rule);
// Convenience overload with the brief's positional form.
[[nodiscard]] Result<std::vector<uint8_t>> buildRuleMessage(RtnlOp op, IpFamily family, uint32_t fwmark,
                                                            uint32_t fwmask, uint32_t table, uint32_t priority);
// One RTM_NEWROUTE/RTM_DELROUTE message; needs a gateway or an oif (or both).
[[nodiscard]] Result<std::vector<uint8_t>> buildRouteMessage(RtnlOp op, const RouteSpec& route);

// A route class in the kernel: one fwmark rule and one default route per
// address family it covers. `gateways` holds at most one next hop per family;
// `oif` the uplink device. The families covered:
//   gateways only      the families of the gateways (via, per family);
//   oif only           both (a point-to-point uplink: an on-link default);
//   gateways and oif   the families of the gateways, through oif;
//   neither            both, rules only: the table is managed by the admin.
// A family the class does not cover gets no rule either, so its flows keep
// the main table whatever their mark says (which is where they would end up
// through an empty table anyway; the daemon counts them).
struct RouteClassSpec {
  uint32_t table = 0;
  uint32_t fwmark = 0;
  uint32_t fwmask = 0xffffffff;
  uint32_t priority = 0;
  std::vector<RouteAddress> gateways{};
  std::optional<uint32_t> oif{};
};

struct RouteClassPlan {
  std::vector<RuleSpec> rules;    // in install order
  std::vector<RouteSpec> routes;  // the same families, default routes in `table`
  bool covers(IpFamily f) const {
    for (const auto& r : rules)
      if (r.family == f) return true;
    return false;
  }
};

// The rules and routes of one route class (pure). Errors: two gateways of one
// family, table 0, fwmark bits outside fwmask.
[[nodiscard]] Result<RouteClassPlan> planRouteClass(const RouteClassSpec& spec);

// if_nametoindex(); ENODEV-style error naming the interface when absent.
[[nodiscard]] Result<uint32_t> interfaceIndex(std::string_view name);

}  // namespace fg::nl
