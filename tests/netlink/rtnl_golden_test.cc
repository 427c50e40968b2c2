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
