// Route classes and address families: `via` with one next hop per family,
// which families a route covers, the warnings for rules and kernel-bound sets
// that would route flows of an uncovered family, and the per-route counters.
#include "tests/policy/policy_test_util.h"

namespace fg::policy {
namespace {

using namespace fg::policy::testing;

const char* kHead = R"(
[policy]
mark_mask = 0xff00
mark_shift = 8
)";

std::shared_ptr<const PolicySet> withRoute(const std::string& route, const std::string& rest = "") {
  return mustCompile(std::string(kHead) + "[route.zero]\ntable = 100\nfwmark = 1\n" + route + "\n" + rest);
}

TEST(RouteFamily, SingleStringViaStillWorksAndCoversItsFamilyOnly) {
  auto p = withRoute(R"(via = "10.0.3.1")");
  ASSERT_EQ(p->routes().size(), 1u);
  const RouteInfo& r = p->routes()[0];
  ASSERT_EQ(r.via.size(), 1u);
  EXPECT_EQ(r.via[0], ip("10.0.3.1"));
  EXPECT_TRUE(r.covers(IpFamily::V4));
  EXPECT_FALSE(r.covers(IpFamily::V6));
  EXPECT_EQ(familiesName(r), "ipv4");
  EXPECT_TRUE(r.managed());
}

TEST(RouteFamily, ViaListGivesOneNextHopPerFamily) {
  auto p = withRoute(R"(via = ["fd00:3::1", "10.0.3.1"])");
  const RouteInfo& r = p->routes()[0];
  ASSERT_EQ(r.via.size(), 2u);
  ASSERT_NE(r.viaFor(IpFamily::V4), nullptr);
  ASSERT_NE(r.viaFor(IpFamily::V6), nullptr);
  EXPECT_EQ(*r.viaFor(IpFamily::V4), ip("10.0.3.1"));
  EXPECT_EQ(*r.viaFor(IpFamily::V6), ip("fd00:3::1"));
  EXPECT_EQ(familiesName(r), "ipv4+ipv6");
  EXPECT_TRUE(p->warnings().empty());
}

TEST(RouteFamily, DevOnlyAndAdminTablesCoverBoth) {
  auto dev = withRoute(R"(dev = "ppp0")");
  EXPECT_EQ(familiesName(dev->routes()[0]), "ipv4+ipv6");
  EXPECT_TRUE(dev->routes()[0].managed());
  auto admin = withRoute("");
  EXPECT_EQ(familiesName(admin->routes()[0]), "ipv4+ipv6");
  EXPECT_FALSE(admin->routes()[0].managed());
  // via + dev: the families of the next hops, through that device.
  auto both = withRoute("via = \"fd00:3::1\"\ndev = \"eth2\"");
  EXPECT_EQ(familiesName(both->routes()[0]), "ipv6");
}

struct BadVia {
  const char* name;
  const char* via;
  const char* message;
};

TEST(RouteFamily, BadViaListsAreErrorsAtTheElement) {
  for (const auto& c : {BadVia{"two-v4", R"(via = ["10.0.3.1", "10.0.4.1"])", "a second IPv4 next hop"},
                        BadVia{"two-v6", R"(via = ["fd00::1", "fd00::2"])", "a second IPv6 next hop"},
                        BadVia{"empty", R"(via = [])", "at least one value"},
                        BadVia{"not-an-address", R"(via = ["10.0.3.1", "gw"])", "next-hop address"},
                        BadVia{"number", R"(via = [10])", "a string"}}) {
    SCOPED_TRACE(c.name);
    auto r = compileText(std::string(kHead) + "[route.zero]\ntable = 100\nfwmark = 1\n" + c.via + "\n");
    ASSERT_FALSE(r.ok());
    ASSERT_EQ(r.errors().size(), 1u) << formatError(r.errors()[0]);
    EXPECT_EQ(r.errors()[0].key, "route.zero.via");
    EXPECT_EQ(r.errors()[0].line, 8);
    EXPECT_THAT(r.errors()[0].message, ::testing::HasSubstr(c.message));
  }
}

const char* kRule = R"(
[[rule]]
name = "zero-rate"
match = { application = "NetFlix" }
route = "zero"
)";

TEST(RouteFamily, RuleRoutingAnUncoveredFamilyIsAWarningNamingRuleAndRoute) {
  auto p = withRoute(R"(via = "10.0.3.1")", kRule);
  ASSERT_EQ(p->warnings().size(), 1u);
  const LoadError& w = p->warnings()[0];
  EXPECT_EQ(w.file, "test.toml");
  EXPECT_EQ(w.line, 13);  // the rule's route key
  EXPECT_EQ(w.key, "rule[zero-rate].route");
  EXPECT_THAT(w.message, ::testing::HasSubstr("rule 'zero-rate' routes IPv6 flows"));
  EXPECT_THAT(w.message, ::testing::HasSubstr("route 'zero' covers ipv4 only"));
}

TEST(RouteFamily, IPv6OnlyRouteWarnsAboutIPv4Flows) {
  auto p = withRoute(R"(via = "fd00:3::1")", kRule);
  ASSERT_EQ(p->warnings().size(), 1u);
  EXPECT_THAT(p->warnings()[0].message, ::testing::HasSubstr("routes IPv4 flows"));
}

TEST(RouteFamily, NoWarningWhenCoveredOrWhenTheRuleCannotMatchTheFamily) {
  EXPECT_TRUE(withRoute(R"(via = ["10.0.3.1", "fd00:3::1"])", kRule)->warnings().empty());
  EXPECT_TRUE(withRoute(R"(dev = "ppp0")", kRule)->warnings().empty());
  // dst restricted to IPv4 networks: the rule never routes an IPv6 flow.
  EXPECT_TRUE(withRoute(R"(via = "10.0.3.1")", R"(
[[rule]]
name = "v4-only"
match = { application = "NetFlix", dst = ["198.51.100.0/24", "203.0.113.0/24"] }
route = "zero"
)")->warnings().empty());
  // A negated dst does not restrict the family: still a warning.
  EXPECT_EQ(withRoute(R"(via = "10.0.3.1")", R"(
[[rule]]
name = "not-v4"
match = { application = "NetFlix", not_dst = "198.51.100.0/24" }
route = "zero"
)")->warnings().size(), 1u);
  // Shadow and disabled rules route nothing.
  EXPECT_TRUE(withRoute(R"(via = "10.0.3.1")", R"(
[[rule]]
name = "tried"
mode = "shadow"
match = { application = "NetFlix" }
route = "zero"
[[rule]]
name = "off"
enabled = false
match = { application = "NetFlix" }
route = "zero"
)")->warnings().empty());
}

TEST(RouteFamily, IPv6SetBoundToAnIPv4OnlyRouteIsAWarning) {
  auto p = withRoute(R"(via = "10.0.3.1")", R"(
[set.servers4]
family = "ipv4"
route = "zero"
[set.servers6]
family = "ipv6"
route = "zero"
)");
  ASSERT_EQ(p->warnings().size(), 1u);
  EXPECT_EQ(p->warnings()[0].key, "set.servers6.route");
  EXPECT_THAT(p->warnings()[0].message, ::testing::HasSubstr("set 'servers6' (ipv6) is bound to route 'zero'"));
  EXPECT_TRUE(withRoute(R"(via = ["10.0.3.1", "fd00:3::1"])", R"(
[set.servers6]
family = "ipv6"
route = "zero"
)")->warnings().empty());
}

TEST(RouteFamily, RoutedFlowsAreCountedPerFamilyAndUncoveredOnesSeparately) {
  auto p = withRoute(R"(via = "10.0.3.1")", kRule);
  EXPECT_TRUE(p->countRoutedFlow(0, IpFamily::V4));
  EXPECT_FALSE(p->countRoutedFlow(0, IpFamily::V6));
  EXPECT_FALSE(p->countRoutedFlow(0, IpFamily::V6));
  EXPECT_TRUE(p->countRoutedFlow(Decision::kNone, IpFamily::V6)) << "main table: nothing to count";
  const auto c = p->routeCounters(0);
  EXPECT_EQ(c.flows_v4, 1u);
  EXPECT_EQ(c.flows_v6, 2u);
  EXPECT_EQ(c.uncovered, 2u);
  auto dual = withRoute(R"(via = ["10.0.3.1", "fd00:3::1"])", kRule);
  EXPECT_TRUE(dual->countRoutedFlow(0, IpFamily::V6));
  EXPECT_EQ(dual->routeCounters(0).uncovered, 0u);
  EXPECT_EQ(dual->routeCounters(0).flows_v6, 1u);
}

TEST(RouteFamily, TheSameDecisionForBothFamilies) {
  // The route's fwmark is one value: the kernel's rule of each family reads it.
  auto p = withRoute(R"(via = ["10.0.3.1", "fd00:3::1"])", kRule);
  FlowFacts f4 = webFlow();
  f4.application = "NetFlix";
  FlowFacts f6 = f4;
  f6.src = ip("fd00:1::2");
  f6.dst = ip("fd00:100::1");
  const Decision d4 = p->evaluate(f4, mondayNoonUtc());
  const Decision d6 = p->evaluate(f6, mondayNoonUtc());
  EXPECT_EQ(d4.route, 0u);
  EXPECT_EQ(d6.route, 0u);
  EXPECT_EQ(d4.mark, 0x100u);
  EXPECT_EQ(d6.mark, d4.mark);
}

}  // namespace
}  // namespace fg::policy
