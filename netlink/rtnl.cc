#include "netlink/rtnl.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace fg::nl {
namespace {

constexpr std::size_t kRoom = 512;

uint8_t af(IpFamily f) { return f == IpFamily::V4 ? AF_INET : AF_INET6; }
std::size_t addrLen(IpFamily f) { return f == IpFamily::V4 ? 4 : 16; }

uint16_t requestFlags(RtnlOp op) {
  switch (op) {
    case RtnlOp::Add: return NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    case RtnlOp::Replace: return NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    case RtnlOp::Delete: return NLM_F_REQUEST | NLM_F_ACK;
  }
  return NLM_F_REQUEST | NLM_F_ACK;
}

// Builds into a fixed room, then trims to nlmsg_len.
template <typename F>
std::vector<uint8_t> message(uint16_t type, uint16_t flags, F&& fill) {
  std::vector<uint8_t> buf(kRoom, 0);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  fill(nlh);
  buf.resize(nlh->nlmsg_len);
  return buf;
}

}  // namespace

Result<RouteAddress> RouteAddress::parse(std::string_view text) {
  const std::string s(text);
  RouteAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = IpFamily::V4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = IpFamily::V6;
    return a;
  }
  return makeError("not an IP address: '" + s + "'");
}

Result<std::vector<uint8_t>> buildRuleMessage(RtnlOp op, const RuleSpec& r) {
  if (op == RtnlOp::Replace) return makeError("rtnl: rules have no replace; delete and add");
  if (r.table == 0) return makeError("rtnl: rule table must not be 0");
  if ((r.fwmark & ~r.fwmask) != 0) return makeError("rtnl: fwmark has bits outside fwmask");
  const uint16_t type = op == RtnlOp::Delete ? RTM_DELRULE : RTM_NEWRULE;
  return message(type, requestFlags(op), [&](nlmsghdr* nlh) {
    auto* frh = static_cast<fib_rule_hdr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(fib_rule_hdr)));
    frh->family = af(r.family);
    frh->action = FR_ACT_TO_TBL;
    // Tables above 255 do not fit the header byte; FRA_TABLE carries all.
    frh->table = r.table < 256 ? static_cast<uint8_t>(r.table) : static_cast<uint8_t>(RT_TABLE_UNSPEC);
    mnl_attr_put_u32(nlh, FRA_TABLE, r.table);
    if (r.fwmask != 0) {  // mask 0 matches every packet: no fwmark selector
      mnl_attr_put_u32(nlh, FRA_FWMARK, r.fwmark);
      mnl_attr_put_u32(nlh, FRA_FWMASK, r.fwmask);
    }
    if (r.priority != 0) mnl_attr_put_u32(nlh, FRA_PRIORITY, r.priority);
    if (r.suppress_prefixlen >= 0)
      mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, static_cast<uint32_t>(r.suppress_prefixlen));
  });
}

Result<std::vector<uint8_t>> buildRuleMessage(RtnlOp op, IpFamily family, uint32_t fwmark, uint32_t fwmask,
                                              uint32_t table, uint32_t priority) {
  return buildRuleMessage(op, RuleSpec{.family = family, .fwmark = fwmark, .fwmask = fwmask, .table = table,
                                       .priority = priority});
}

Result<std::vector<uint8_t>> buildRouteMessage(RtnlOp op, const RouteSpec& r) {
  if (r.table == 0) return makeError("rtnl: route table must not be 0");
  if (op != RtnlOp::Delete && !r.gateway && !r.oif) return makeError("rtnl: route needs a gateway or an oif");
  if (r.gateway && r.gateway->family != r.family) return makeError("rtnl: gateway family differs from route family");
  if (r.dst && r.dst->family != r.family) return makeError("rtnl: destination family differs from route family");
  if (r.dst_len > addrLen(r.family) * 8) return makeError("rtnl: destination prefix length too long");
  if (!r.dst && r.dst_len != 0) return makeError("rtnl: prefix length without destination");
  const uint16_t type = op == RtnlOp::Delete ? RTM_DELROUTE : RTM_NEWROUTE;
  return message(type, requestFlags(op), [&](nlmsghdr* nlh) {
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = af(r.family);
    rtm->rtm_dst_len = r.dst ? r.dst_len : 0;
    rtm->rtm_table = r.table < 256 ? static_cast<uint8_t>(r.table) : static_cast<uint8_t>(RT_TABLE_UNSPEC);
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_type = RTN_UNICAST;
    if (op == RtnlOp::Delete) {
      rtm->rtm_scope = RT_SCOPE_NOWHERE;  // matches any scope, as `ip route del` does
    } else {
      // No gateway: the destination is directly on the link.
      rtm->rtm_scope = r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    }
    mnl_attr_put_u32(nlh, RTA_TABLE, r.table);
    if (r.dst) mnl_attr_put(nlh, RTA_DST, addrLen(r.family), r.dst->bytes.data());
    if (r.gateway) mnl_attr_put(nlh, RTA_GATEWAY, addrLen(r.family), r.gateway->bytes.data());
    if (r.oif) mnl_attr_put_u32(nlh, RTA_OIF, *r.oif);
    if (r.metric != 0) mnl_attr_put_u32(nlh, RTA_PRIORITY, r.metric);
  });
}

Result<RouteClassPlan> planRouteClass(const RouteClassSpec& spec) {
  if (spec.table == 0) return makeError("rtnl: route class table must not be 0");
  if ((spec.fwmark & ~spec.fwmask) != 0) return makeError("rtnl: fwmark has bits outside fwmask");
  const RouteAddress* gw[2] = {nullptr, nullptr};
  for (const auto& g : spec.gateways) {
    const RouteAddress*& slot = gw[g.family == IpFamily::V4 ? 0 : 1];
    if (slot != nullptr) return makeError("rtnl: two gateways of one family in a route class");
    slot = &g;
  }
  RouteClassPlan plan;
  for (IpFamily fam : {IpFamily::V4, IpFamily::V6}) {
    const RouteAddress* g = gw[fam == IpFamily::V4 ? 0 : 1];
    if (!spec.gateways.empty() && g == nullptr) continue;  // not covered: no rule, no route
    plan.rules.push_back(RuleSpec{.family = fam, .fwmark = spec.fwmark, .fwmask = spec.fwmask,
                                  .table = spec.table, .priority = spec.priority, .suppress_prefixlen = -1});
    if (g == nullptr && !spec.oif) continue;  // the admin's table: rules only
    RouteSpec route{.family = fam, .table = spec.table};
    if (g != nullptr) route.gateway = *g;
    route.oif = spec.oif;
    plan.routes.push_back(route);
  }
  return plan;
}

Result<uint32_t> interfaceIndex(std::string_view name) {
  const std::string n(name);
  if (n.empty() || n.size() >= IFNAMSIZ) return makeError("rtnl: invalid interface name '" + n + "'");
  const unsigned idx = if_nametoindex(n.c_str());
  if (idx == 0) return errnoError("rtnl: interface '" + n + "'", errno);
  return static_cast<uint32_t>(idx);
}

}  // namespace fg::nl
