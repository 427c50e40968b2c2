#include "gateway/daemon/policy_routes.h"

#include <algorithm>

#include "common/log.h"

namespace fg::daemon {

namespace {

constexpr uint32_t kMainTable = 254;

bool sameAddress(const std::optional<nl::RouteAddress>& a, const std::optional<nl::RouteAddress>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->family == b->family && a->bytes == b->bytes);
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

bool sameRule(const nl::RuleSpec& a, const nl::RuleSpec& b) {
  return a.family == b.family && a.fwmark == b.fwmark && a.fwmask == b.fwmask && a.table == b.table &&
         a.priority == b.priority && a.suppress_prefixlen == b.suppress_prefixlen;
}

bool sameRouteSlot(const nl::RouteSpec& a, const nl::RouteSpec& b) {
  return a.family == b.family && a.table == b.table && sameAddress(a.dst, b.dst) && a.dst_len == b.dst_len &&
         a.metric == b.metric;
}

bool sameRoute(const nl::RouteSpec& a, const nl::RouteSpec& b) {
  return sameRouteSlot(a, b) && sameAddress(a.gateway, b.gateway) && a.oif == b.oif;
}

Result<void> NetlinkRouting::rule(nl::RtnlOp op, const nl::RuleSpec& rule) {
  auto msg = nl::buildRuleMessage(op, rule);
  if (!msg) return msg.error();
  return sock_.request(*msg);
}

Result<void> NetlinkRouting::route(nl::RtnlOp op, const nl::RouteSpec& route) {
  auto msg = nl::buildRouteMessage(op, route);
  if (!msg) return msg.error();
  return sock_.request(*msg);
}

Result<uint32_t> NetlinkRouting::interfaceIndex(std::string_view name) { return nl::interfaceIndex(name); }

Result<RoutingState> routingStateOf(const policy::PolicySet& p, uint32_t priority_base, RoutingTable& table) {
  RoutingState s;
  uint32_t prio = priority_base;
  if (!p.routes().empty()) {
    // `lookup main suppress_prefixlength 0` first: every specific route of
    // the main table (the LAN subnets, so the replies of a zero-rated flow)
    // still wins; the route classes below override only the default route.
    for (nl::IpFamily fam : {nl::IpFamily::V4, nl::IpFamily::V6})
      s.rules.push_back({.family = fam, .fwmark = 0, .fwmask = 0, .table = kMainTable, .priority = prio,
                         .suppress_prefixlen = 0});
    ++prio;
  }
  for (const auto& r : p.routes()) {
    std::optional<uint32_t> oif;
    if (!r.dev.empty()) {
      auto idx = table.interfaceIndex(r.dev);
      if (!idx) return Error{idx.error().code, "route '" + r.name + "': " + idx.error().context};
      oif = *idx;
    }
    // netlink/rtnl.h planRouteClass: a rule and a default route per family
    // the route class has a next hop for (docs/kernel.md).
    nl::RouteClassSpec spec{.table = r.table, .fwmark = r.fwmark, .fwmask = r.fwmark_mask, .priority = prio};
    for (const auto& via : r.via)
      spec.gateways.push_back(nl::RouteAddress{
          .family = via.family == policy::IpFamily::V6 ? nl::IpFamily::V6 : nl::IpFamily::V4, .bytes = via.bytes});
    spec.oif = oif;
    auto plan = nl::planRouteClass(spec);
    if (!plan) return Error{plan.error().code, "route '" + r.name + "': " + plan.error().context};
    for (const auto& rule : plan->rules) s.rules.push_back(rule);
    // An IPv6 default via a device without IPv6 is not fatal (it is logged).
    for (const auto& route : plan->routes)
      s.routes.push_back({.owner = r.name, .spec = route,
                          .may_fail = route.family == nl::IpFamily::V6 && !route.gateway});
    ++prio;
  }
  return s;
}

Result<void> PolicyRoutes::prepare(const policy::PolicySet& next) {
  auto want = routingStateOf(next, priority_base_, *table_);
  if (!want) return want.error();
  replaced_.clear();
  added_rules_.clear();
  std::vector<std::string> failures;  // each with its own error text
  auto fail = [&](const Error& e, std::string what) { failures.push_back(std::move(what) + ": " + e.message()); };
  // Routes first: a rule must never point at a table that is not ready.
  std::vector<RoutingState::Route> kept;
  for (const auto& r : want->routes) {
    if (auto s = table_->route(nl::RtnlOp::Replace, r.spec); !s) {
      if (!r.may_fail) fail(s.error(), "route '" + r.owner + "': ip route");
      else log::warn("route_family_unavailable", {{"route", r.owner}, {"family", "ipv6"}, {"error", s.error().message()}});
      continue;
    }
    replaced_.push_back(r.spec);
    kept.push_back(r);
  }
  for (const auto& rule : want->rules) {
    const bool ours = std::any_of(current_.rules.begin(), current_.rules.end(),
                                  [&](const nl::RuleSpec& c) { return sameRule(c, rule); });
    if (ours || !failures.empty()) continue;
    auto s = table_->rule(nl::RtnlOp::Add, rule);
    if (s) added_rules_.push_back(rule);
    // EEXIST: an identical rule is there already (left by an instance that
    // died); it does what we want, and it becomes ours.
    else if (s.error().code != std::errc::file_exists)
      fail(s.error(), rule.table == kMainTable ? "ip rule lookup main suppress_prefixlength 0"
                                                : "ip rule fwmark lookup " + std::to_string(rule.table));
  }
  if (!failures.empty()) {
    undo(replaced_, added_rules_);
    replaced_.clear();
    added_rules_.clear();
    return Error{std::error_code{}, joined(failures)};
  }
  want->routes = std::move(kept);
  pending_ = std::move(*want);
  return {};
}

void PolicyRoutes::commit() {
  if (!pending_) return;
  for (const auto& rule : current_.rules) {
    const bool kept = std::any_of(pending_->rules.begin(), pending_->rules.end(),
                                  [&](const nl::RuleSpec& n) { return sameRule(n, rule); });
    if (kept) continue;
    if (auto s = table_->rule(nl::RtnlOp::Delete, rule); !s)
      log::warn("route_rule_remove_failed", {{"table", rule.table}, {"error", s.error().message()}});
  }
  for (const auto& old : current_.routes) {
    const bool overwritten = std::any_of(pending_->routes.begin(), pending_->routes.end(),
                                         [&](const RoutingState::Route& n) { return sameRouteSlot(n.spec, old.spec); });
    if (overwritten) continue;
    if (auto s = table_->route(nl::RtnlOp::Delete, old.spec); !s)
      log::warn("route_remove_failed", {{"route", old.owner}, {"error", s.error().message()}});
  }
  current_ = std::move(*pending_);
  pending_.reset();
  replaced_.clear();
  added_rules_.clear();
}

void PolicyRoutes::abort() {
  if (!pending_) return;
  undo(replaced_, added_rules_);
  pending_.reset();
  replaced_.clear();
  added_rules_.clear();
}

void PolicyRoutes::undo(const std::vector<nl::RouteSpec>& replaced, const std::vector<nl::RuleSpec>& added) {
  for (const auto& rule : added)
    if (auto s = table_->rule(nl::RtnlOp::Delete, rule); !s)
      log::warn("route_rollback_failed", {{"table", rule.table}, {"error", s.error().message()}});
  for (const auto& spec : replaced) {
    auto old = std::find_if(current_.routes.begin(), current_.routes.end(),
                            [&](const RoutingState::Route& c) { return sameRouteSlot(c.spec, spec); });
    Result<void> s = old != current_.routes.end() ? table_->route(nl::RtnlOp::Replace, old->spec)
                                                  : table_->route(nl::RtnlOp::Delete, spec);
    if (!s) log::warn("route_rollback_failed", {{"table", spec.table}, {"error", s.error().message()}});
  }
}

void PolicyRoutes::remove() {
  abort();
  for (const auto& rule : current_.rules) (void)table_->rule(nl::RtnlOp::Delete, rule);
  for (const auto& r : current_.routes) (void)table_->route(nl::RtnlOp::Delete, r.spec);
  current_ = {};
}

}  // namespace fg::daemon
