// Golden tests for netlink/rtnl.h: parse the rtnetlink messages back with
// mnl_attr_parse and compare attributes.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <map>

#include "netlink/rtnl.h"

namespace fg::nl {
namespace {

using Attrs = std::map<uint16_t, std::vector<uint8_t>>;

Attrs attrs(const nlmsghdr* nlh, std::size_t extra) {
  Attrs out;
  mnl_attr_parse(nlh, static_cast<unsigned>(extra),
                 [](const nlattr* a, void* data) -> int {
                   const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(a));
                   (*static_cast<Attrs*>(data))[mnl_attr_get_type(a)] =
                       std::vector<uint8_t>(p, p + mnl_attr_get_payload_len(a));
                   return MNL_CB_OK;
                 },
                 &out);
  return out;
}
uint32_t u32(const std::vector<uint8_t>& v) {
  uint32_t x = 0;
  EXPECT_EQ(v.size(), 4u);
  std::memcpy(&x, v.data(), 4);
  return x;
}
const nlmsghdr* hdr(const std::vector<uint8_t>& m) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(m.data());
  EXPECT_EQ(nlh->nlmsg_len, m.size());
  return nlh;
}

TEST(RtnlRule, FwmarkRuleAttributes) {
  auto m = buildRuleMessage(RtnlOp::Add, IpFamily::V4, 0x100, 0xffff, 100, 1000);
  ASSERT_TRUE(m.ok());
  const auto* nlh = hdr(*m);
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWRULE);
  EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  const auto* frh = static_cast<const fib_rule_hdr*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(frh->family, AF_INET);
  EXPECT_EQ(frh->action, FR_ACT_TO_TBL);
  EXPECT_EQ(frh->table, 100);
  auto a = attrs(nlh, sizeof(fib_rule_hdr));
  EXPECT_EQ(u32(a[FRA_FWMARK]), 0x100u);
  EXPECT_EQ(u32(a[FRA_FWMASK]), 0xffffu);
  EXPECT_EQ(u32(a[FRA_TABLE]), 100u);
  EXPECT_EQ(u32(a[FRA_PRIORITY]), 1000u);
}

TEST(RtnlRule, DeleteLargeTableAndV6) {
  auto m = buildRuleMessage(RtnlOp::Delete,
                            RuleSpec{.family = IpFamily::V6, .fwmark = 0x2, .fwmask = 0xf, .table = 1000, .priority = 5});
  ASSERT_TRUE(m.ok());
  const auto* nlh = hdr(*m);
  EXPECT_EQ(nlh->nlmsg_type, RTM_DELRULE);
  EXPECT_FALSE(nlh->nlmsg_flags & NLM_F_CREATE);
  const auto* frh = static_cast<const fib_rule_hdr*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(frh->family, AF_INET6);
  EXPECT_EQ(frh->table, RT_TABLE_UNSPEC) << "tables > 255 only in FRA_TABLE";
  auto a = attrs(nlh, sizeof(fib_rule_hdr));
  EXPECT_EQ(u32(a[FRA_TABLE]), 1000u);
}

TEST(RtnlRule, SuppressPrefixLengthRuleHasNoFwmark) {
  // `ip rule add lookup main suppress_prefixlength 0 pref 9999`
  auto m = buildRuleMessage(RtnlOp::Add, RuleSpec{.family = IpFamily::V4, .fwmark = 0, .fwmask = 0,
                                                  .table = RT_TABLE_MAIN, .priority = 9999,
                                                  .suppress_prefixlen = 0});
  ASSERT_TRUE(m.ok());
  auto a = attrs(hdr(*m), sizeof(fib_rule_hdr));
  EXPECT_EQ(u32(a[FRA_TABLE]), static_cast<uint32_t>(RT_TABLE_MAIN));
  EXPECT_EQ(u32(a[FRA_SUPPRESS_PREFIXLEN]), 0u);
  EXPECT_EQ(u32(a[FRA_PRIORITY]), 9999u);
  EXPECT_EQ(a.count(FRA_FWMARK), 0u);
  EXPECT_EQ(a.count(FRA_FWMASK), 0u);
}

TEST(RtnlRule, RejectsBadInput) {
  EXPECT_FALSE(buildRuleMessage(RtnlOp::Add, IpFamily::V4, 1, 1, 0, 10).ok());
  EXPECT_FALSE(buildRuleMessage(RtnlOp::Add, IpFamily::V4, 0x10000, 0xffff, 100, 10).ok());
  EXPECT_FALSE(buildRuleMessage(RtnlOp::Replace, IpFamily::V4, 1, 1, 100, 10).ok());
}

TEST(RtnlRoute, DefaultRouteViaGateway) {
  auto gw = RouteAddress::parse("10.0.3.1");
  ASSERT_TRUE(gw.ok());
  auto m = buildRouteMessage(RtnlOp::Add, RouteSpec{.table = 100, .gateway = *gw, .oif = 7});
  ASSERT_TRUE(m.ok());
  const auto* nlh = hdr(*m);
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWROUTE);
  EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(rtm->rtm_family, AF_INET);
  EXPECT_EQ(rtm->rtm_dst_len, 0);
  EXPECT_EQ(rtm->rtm_table, 100);
  EXPECT_EQ(rtm->rtm_type, RTN_UNICAST);
  EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
  auto a = attrs(nlh, sizeof(rtmsg));
  EXPECT_EQ(u32(a[RTA_TABLE]), 100u);
  EXPECT_EQ(a[RTA_GATEWAY], (std::vector<uint8_t>{10, 0, 3, 1}));
  EXPECT_EQ(u32(a[RTA_OIF]), 7u);
  EXPECT_FALSE(a.count(RTA_DST)) << "default route";
}

TEST(RtnlRoute, V6PrefixOnLinkReplace) {
  auto dst = RouteAddress::parse("2001:db8::");
  ASSERT_TRUE(dst.ok());
  auto m = buildRouteMessage(RtnlOp::Replace, RouteSpec{.family = IpFamily::V6, .table = 300, .oif = 3,
                                                         .dst = *dst, .dst_len = 32, .metric = 10});
  ASSERT_TRUE(m.ok());
  const auto* nlh = hdr(*m);
  EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(rtm->rtm_family, AF_INET6);
  EXPECT_EQ(rtm->rtm_dst_len, 32);
  EXPECT_EQ(rtm->rtm_table, RT_TABLE_UNSPEC);
  EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_LINK);
  auto a = attrs(nlh, sizeof(rtmsg));
  EXPECT_EQ(u32(a[RTA_TABLE]), 300u);
  EXPECT_EQ(a[RTA_DST].size(), 16u);
  EXPECT_EQ(a[RTA_DST][0], 0x20);
  EXPECT_EQ(u32(a[RTA_PRIORITY]), 10u);
}

TEST(RtnlRoute, RejectsBadInput) {
  auto gw6 = RouteAddress::parse("fe80::1");
  ASSERT_TRUE(gw6.ok());
  EXPECT_FALSE(buildRouteMessage(RtnlOp::Add, RouteSpec{.table = 100}).ok()) << "no gateway, no oif";
  EXPECT_FALSE(buildRouteMessage(RtnlOp::Add, RouteSpec{.table = 0, .oif = 1}).ok());
  EXPECT_FALSE(buildRouteMessage(RtnlOp::Add, RouteSpec{.table = 100, .gateway = *gw6}).ok()) << "family mismatch";
  EXPECT_FALSE(buildRouteMessage(RtnlOp::Add, RouteSpec{.table = 100, .oif = 1, .dst_len = 8}).ok());
  EXPECT_FALSE(RouteAddress::parse("nope").ok());
}

RouteAddress addr(const char* text) {
  auto a = RouteAddress::parse(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? *a : RouteAddress{};
}

TEST(RtnlRouteClass, DualStackPlanGivesARuleAndADefaultRoutePerFamily) {
  auto plan = planRouteClass(RouteClassSpec{.table = 100, .fwmark = 0x1000, .fwmask = 0xff00, .priority = 1001,
                                            .gateways = {addr("fd00:3::1"), addr("10.0.3.1")}});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->rules.size(), 2u);
  ASSERT_EQ(plan->routes.size(), 2u);
  EXPECT_TRUE(plan->covers(IpFamily::V4));
  EXPECT_TRUE(plan->covers(IpFamily::V6));

  // The IPv6 rule, as sent: `ip -6 rule add fwmark 0x1000/0xff00 lookup 100 pref 1001`.
  const RuleSpec& rule6 = plan->rules[1];
  EXPECT_EQ(rule6.family, IpFamily::V6);
  auto rm = buildRuleMessage(RtnlOp::Add, rule6);
  ASSERT_TRUE(rm.ok());
  const auto* rh = hdr(*rm);
  EXPECT_EQ(rh->nlmsg_type, RTM_NEWRULE);
  const auto* frh = static_cast<const fib_rule_hdr*>(mnl_nlmsg_get_payload(rh));
  EXPECT_EQ(frh->family, AF_INET6);
  EXPECT_EQ(frh->action, FR_ACT_TO_TBL);
  auto ra = attrs(rh, sizeof(fib_rule_hdr));
  EXPECT_EQ(u32(ra[FRA_FWMARK]), 0x1000u);
  EXPECT_EQ(u32(ra[FRA_FWMASK]), 0xff00u);
  EXPECT_EQ(u32(ra[FRA_TABLE]), 100u);
  EXPECT_EQ(u32(ra[FRA_PRIORITY]), 1001u);
  EXPECT_FALSE(ra.count(FRA_SUPPRESS_PREFIXLEN));

  // The IPv6 default route: `ip -6 route replace default via fd00:3::1 table 100`.
  const RouteSpec& route6 = plan->routes[1];
  auto m = buildRouteMessage(RtnlOp::Replace, route6);
  ASSERT_TRUE(m.ok());
  const auto* nlh = hdr(*m);
  EXPECT_EQ(nlh->nlmsg_type, RTM_NEWROUTE);
  EXPECT_EQ(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  EXPECT_EQ(rtm->rtm_family, AF_INET6);
  EXPECT_EQ(rtm->rtm_dst_len, 0);
  EXPECT_EQ(rtm->rtm_table, 100);
  EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
  auto a = attrs(nlh, sizeof(rtmsg));
  EXPECT_EQ(a[RTA_GATEWAY], (std::vector<uint8_t>{0xfd, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_FALSE(a.count(RTA_DST)) << "default route";
  EXPECT_FALSE(a.count(RTA_OIF));

  // And the IPv4 pair, first in install order.
  EXPECT_EQ(plan->rules[0].family, IpFamily::V4);
  auto m4 = buildRouteMessage(RtnlOp::Replace, plan->routes[0]);
  ASSERT_TRUE(m4.ok());
  EXPECT_EQ(static_cast<const rtmsg*>(mnl_nlmsg_get_payload(hdr(*m4)))->rtm_family, AF_INET);
  EXPECT_EQ(attrs(hdr(*m4), sizeof(rtmsg))[RTA_GATEWAY], (std::vector<uint8_t>{10, 0, 3, 1}));
}

TEST(RtnlRouteClass, OneFamilyOnlyGetsNoRuleForTheOther) {
  auto plan = planRouteClass(RouteClassSpec{.table = 100, .fwmark = 0x100, .fwmask = 0xff00, .priority = 7,
                                            .gateways = {addr("10.0.3.1")}, .oif = 4});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->rules.size(), 1u);
  EXPECT_EQ(plan->rules[0].family, IpFamily::V4);
  EXPECT_FALSE(plan->covers(IpFamily::V6));
  ASSERT_EQ(plan->routes.size(), 1u);
  auto m = buildRouteMessage(RtnlOp::Replace, plan->routes[0]);
  ASSERT_TRUE(m.ok());
  auto a = attrs(hdr(*m), sizeof(rtmsg));
  EXPECT_EQ(u32(a[RTA_OIF]), 4u);
  EXPECT_EQ(a[RTA_GATEWAY], (std::vector<uint8_t>{10, 0, 3, 1}));
}

TEST(RtnlRouteClass, DeviceOnlyIsOnLinkForBothAndAdminTablesGetRulesOnly) {
  auto dev = planRouteClass(RouteClassSpec{.table = 200, .fwmark = 1, .fwmask = 0xff, .priority = 9, .oif = 5});
  ASSERT_TRUE(dev.ok());
  ASSERT_EQ(dev->routes.size(), 2u);
  for (const auto& r : dev->routes) {
    auto m = buildRouteMessage(RtnlOp::Replace, r);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(static_cast<const rtmsg*>(mnl_nlmsg_get_payload(hdr(*m)))->rtm_scope, RT_SCOPE_LINK);
    auto a = attrs(hdr(*m), sizeof(rtmsg));
    EXPECT_EQ(u32(a[RTA_OIF]), 5u);
    EXPECT_FALSE(a.count(RTA_GATEWAY));
  }
  auto admin = planRouteClass(RouteClassSpec{.table = 200, .fwmark = 1, .fwmask = 0xff, .priority = 9});
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->rules.size(), 2u);
  EXPECT_TRUE(admin->routes.empty());
}

TEST(RtnlRouteClass, RejectsBadSpecs) {
  EXPECT_FALSE(planRouteClass(RouteClassSpec{.table = 100, .fwmark = 1, .fwmask = 0xff,
                                             .gateways = {addr("10.0.3.1"), addr("10.0.4.1")}})
                   .ok())
      << "two IPv4 gateways";
  EXPECT_FALSE(planRouteClass(RouteClassSpec{.table = 0, .fwmark = 1, .fwmask = 0xff}).ok());
  EXPECT_FALSE(planRouteClass(RouteClassSpec{.table = 100, .fwmark = 0x100, .fwmask = 0xff}).ok());
}

TEST(RtnlInterface, ResolvesLoopbackAndNamesMissing) {
  auto lo = interfaceIndex("lo");
  ASSERT_TRUE(lo.ok());
  EXPECT_GT(*lo, 0u);
  auto missing = interfaceIndex("fgnosuchif0");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().context.find("fgnosuchif0"), std::string::npos);
}

}  // namespace
}  // namespace fg::nl
