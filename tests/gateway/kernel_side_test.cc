// daemon::PolicyRoutes and daemon::PolicyKernel over an in-memory routing
// table and nft table: make before break, all or nothing, nothing left over.
#include "gateway/daemon/kernel_side.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

namespace fg::daemon {
namespace {

// The kernel's routing state, as the fake keeps it.
struct RoutingKernel {
  std::vector<nl::RuleSpec> rules;
  std::vector<nl::RouteSpec> routes;
  std::set<std::string> unreachable;  // gateways a route may not use ("10.0.9.1")
  std::map<std::string, uint32_t> interfaces{{"wan2", 7}};
  // After every change: did table 100 have a default route?
  std::vector<bool> table100_history;

  bool hasDefault(uint32_t table) const {
    return std::any_of(routes.begin(), routes.end(), [&](const nl::RouteSpec& r) { return r.table == table; });
  }
};

std::string gatewayText(const nl::RouteSpec& r) {
  if (!r.gateway) return "";
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(r.family == nl::IpFamily::V4 ? AF_INET : AF_INET6, r.gateway->bytes.data(), buf, sizeof buf);
  return buf;
}

class FakeRouting final : public RoutingTable {
 public:
  explicit FakeRouting(RoutingKernel& k) : k_(k) {}

  Result<void> rule(nl::RtnlOp op, const nl::RuleSpec& rule) override {
    auto it = std::find_if(k_.rules.begin(), k_.rules.end(), [&](const nl::RuleSpec& r) { return sameRule(r, rule); });
    if (op == nl::RtnlOp::Delete) {
      if (it == k_.rules.end()) return errnoError("ip rule del", ENOENT);
      k_.rules.erase(it);
    } else {
      if (it != k_.rules.end()) return errnoError("ip rule add", EEXIST);
      k_.rules.push_back(rule);
    }
    return {};
  }

  Result<void> route(nl::RtnlOp op, const nl::RouteSpec& route) override {
    auto it = std::find_if(k_.routes.begin(), k_.routes.end(),
                           [&](const nl::RouteSpec& r) { return sameRouteSlot(r, route); });
    if (op == nl::RtnlOp::Delete) {
      if (it == k_.routes.end()) return errnoError("ip route del", ESRCH);
      k_.routes.erase(it);
    } else {
      if (k_.unreachable.count(gatewayText(route))) return errnoError("Nexthop has invalid gateway", ENETUNREACH);
      if (it != k_.routes.end()) *it = route;
      else k_.routes.push_back(route);
    }
    k_.table100_history.push_back(k_.hasDefault(100));
    return {};
  }

  Result<uint32_t> interfaceIndex(std::string_view name) override {
    auto it = k_.interfaces.find(std::string(name));
    if (it == k_.interfaces.end()) return errnoError(std::string(name), ENODEV);
    return it->second;
  }

 private:
  RoutingKernel& k_;
};

// The nft side: the table's sets as last installed, and the calls.
struct NftKernel {
  std::vector<nl::NftSetSpec> sets;
  bool queue_bypass = false;  // of the last table installed
  int creates = 0, replaces = 0;
  bool fail_replace = false;
};

std::shared_ptr<const policy::PolicySet> compile(const std::string& text, uint64_t generation = 1) {
  const std::vector<policy::PolicySource> sources{{"test.toml", text}};
  auto r = policy::compilePolicy(sources, policy::LoadOptions{}, generation);
  if (!r.ok()) {
    std::string all;
    for (const auto& e : r.errors()) all += policy::formatError(e) + "\n";
    ADD_FAILURE() << all;
    return policy::PolicySet::empty();
  }
  return r.value();
}

const char* kHead = R"(
[policy]
default_action = "accept"
mark_mask = 0x0000ff00
mark_shift = 8
)";

std::string routeClass(const std::string& name, int table, const std::string& via, int fwmark) {
  return "[route." + name + "]\ntable = " + std::to_string(table) + "\nvia = \"" + via +
         "\"\nfwmark = " + std::to_string(fwmark) + "\n";
}

std::string ruleUsing(const std::string& route) {
  return "[[rule]]\nname = \"r-" + route + "\"\nmatch = { hostname = \"" + route + ".example\" }\nroute = \"" + route +
         "\"\n";
}

const char* kSet = R"(
[set.zero_rated]
family = "ipv4"
address = "dst"
timeout = 3600
)";

class KernelSideTest : public ::testing::Test {
 protected:
  std::unique_ptr<PolicyKernel> make(cli::Config cfg = {}) {
    cfg.rule_priority = 1000;
    return std::make_unique<PolicyKernel>(
        cfg, nl::QueueMode::Native,
        [this](const nl::NftTableSpec& spec, bool replace) -> Result<void> {
          if (replace && nft_.fail_replace) return errnoError("sendmsg", ENOBUFS);
          (replace ? nft_.replaces : nft_.creates)++;
          nft_.sets = spec.sets;
          nft_.queue_bypass = spec.queue_bypass;
          return {};
        },
        std::make_unique<FakeRouting>(rt_));
  }

  std::vector<uint32_t> tablesRouted() const {
    std::vector<uint32_t> t;
    for (const auto& r : rt_.routes) t.push_back(r.table);
    std::sort(t.begin(), t.end());
    return t;
  }

  RoutingKernel rt_;
  NftKernel nft_;
};

TEST_F(KernelSideTest, InstallCreatesTableRulesAndRoutes) {
  auto k = make();
  auto p = compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.1", 1) + ruleUsing("zero") + kSet);
  ASSERT_TRUE(k->install(*p).ok());
  EXPECT_EQ(nft_.creates, 1);
  ASSERT_EQ(nft_.sets.size(), 1u);
  EXPECT_EQ(nft_.sets[0].name, "zero_rated");
  // suppress rule (v4, v6) at 1000; the fwmark rule at 1001 for the one
  // family the route class has a next hop for (netlink/rtnl.h planRouteClass).
  ASSERT_EQ(rt_.rules.size(), 3u);
  EXPECT_EQ(rt_.rules[2].family, nl::IpFamily::V4);
  EXPECT_EQ(rt_.rules[0].suppress_prefixlen, 0);
  EXPECT_EQ(rt_.rules[0].priority, 1000u);
  EXPECT_EQ(rt_.rules[2].fwmark, 0x100u);
  EXPECT_EQ(rt_.rules[2].fwmask, 0xff00u);
  EXPECT_EQ(rt_.rules[2].table, 100u);
  EXPECT_EQ(rt_.rules[2].priority, 1001u);
  // An IPv4 next hop: one IPv4 default route in table 100.
  ASSERT_EQ(rt_.routes.size(), 1u);
  EXPECT_EQ(gatewayText(rt_.routes[0]), "10.0.3.1");
  EXPECT_EQ(rt_.routes[0].table, 100u);
}

TEST_F(KernelSideTest, TheQueueRuleBypassesUnlessFailureNotRunningIsDrop) {
  ASSERT_TRUE(make()->install(*compile(kHead)).ok());
  EXPECT_TRUE(nft_.queue_bypass) << "default: packets pass while no flowgate reads the queue";
  cli::Config closed;
  closed.failure.not_running = core::FailureAction::Drop;
  ASSERT_TRUE(make(closed)->install(*compile(kHead)).ok());
  EXPECT_FALSE(nft_.queue_bypass);
}

TEST_F(KernelSideTest, DualStackClassGetsARuleAndARoutePerFamily) {
  auto k = make();
  const std::string dual = "[route.zero]\ntable = 100\nvia = [\"10.0.3.1\", \"fd00:3::1\"]\nfwmark = 1\n";
  ASSERT_TRUE(k->install(*compile(std::string(kHead) + dual + ruleUsing("zero"))).ok());
  ASSERT_EQ(rt_.rules.size(), 4u);  // suppress (v4, v6), fwmark (v4, v6)
  EXPECT_EQ(rt_.rules[2].family, nl::IpFamily::V4);
  EXPECT_EQ(rt_.rules[3].family, nl::IpFamily::V6);
  ASSERT_EQ(rt_.routes.size(), 2u);
  std::vector<std::string> gateways{gatewayText(rt_.routes[0]), gatewayText(rt_.routes[1])};
  std::sort(gateways.begin(), gateways.end());
  EXPECT_EQ(gateways, (std::vector<std::string>{"10.0.3.1", "fd00:3::1"}));
  // Back to IPv4 only: the IPv6 rule and route go, the IPv4 ones stay.
  ASSERT_TRUE(k->apply(*compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.1", 1) + ruleUsing("zero"), 2))
                  .ok());
  EXPECT_EQ(rt_.rules.size(), 3u);
  ASSERT_EQ(rt_.routes.size(), 1u);
  EXPECT_EQ(gatewayText(rt_.routes[0]), "10.0.3.1");
}

TEST_F(KernelSideTest, UnreachableNextHopChangesNothingAndNamesTheRoute) {
  auto k = make();
  auto p1 = compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.1", 1) + ruleUsing("zero") + kSet);
  ASSERT_TRUE(k->install(*p1).ok());
  const auto rules_before = rt_.rules;
  const auto routes_before = rt_.routes;
  // Generation 2 moves table 100 to an unreachable next hop, adds a class
  // and a set.
  rt_.unreachable.insert("10.0.9.1");
  auto p2 = compile(std::string(kHead) + routeClass("zero", 100, "10.0.9.1", 1) + ruleUsing("zero") +
                        routeClass("bulk", 101, "10.0.3.1", 2) + ruleUsing("bulk") + kSet +
                        "[set.other]\nfamily = \"ipv4\"\naddress = \"dst\"\n",
                    2);
  auto r = k->apply(*p2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context.find("route 'zero'"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(std::error_code(ENETUNREACH, std::system_category()).message()),
            std::string::npos);
  // Nothing changed: the rules, the routes, the table.
  ASSERT_EQ(rt_.rules.size(), rules_before.size());
  for (size_t i = 0; i < rules_before.size(); ++i) EXPECT_TRUE(sameRule(rt_.rules[i], rules_before[i]));
  ASSERT_EQ(rt_.routes.size(), routes_before.size());
  EXPECT_TRUE(sameRoute(rt_.routes[0], routes_before[0]));
  EXPECT_EQ(nft_.replaces, 0);
  EXPECT_EQ(nft_.sets.size(), 1u);
  // Table 100 never lost its route.
  for (bool had : rt_.table100_history) EXPECT_TRUE(had);
  // And the kernel side still knows its state: a later good policy applies.
  rt_.unreachable.clear();
  ASSERT_TRUE(k->apply(*p2).ok());
  EXPECT_EQ(tablesRouted(), (std::vector<uint32_t>{100, 101}));
}

TEST_F(KernelSideTest, EveryFailingRouteIsReported) {
  auto k = make();
  ASSERT_TRUE(k->install(*compile(kHead)).ok());
  rt_.unreachable = {"10.0.9.1", "10.0.9.2"};
  auto p = compile(std::string(kHead) + routeClass("a", 100, "10.0.9.1", 1) + ruleUsing("a") +
                   routeClass("b", 101, "10.0.3.1", 2) + ruleUsing("b") + routeClass("c", 102, "10.0.9.2", 3) +
                   ruleUsing("c"));
  auto r = k->apply(*p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context.find("route 'a'"), std::string::npos) << r.error().context;
  EXPECT_NE(r.error().context.find("route 'c'"), std::string::npos) << r.error().context;
  EXPECT_EQ(r.error().context.find("route 'b'"), std::string::npos) << r.error().context;
  // b's route, made before the failures were known, is gone again.
  EXPECT_TRUE(rt_.routes.empty());
  EXPECT_TRUE(rt_.rules.empty());
}

TEST_F(KernelSideTest, ChangedNextHopIsReplacedInPlace) {
  auto k = make();
  ASSERT_TRUE(k->install(*compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.1", 1) + ruleUsing("zero")))
                  .ok());
  ASSERT_TRUE(k->apply(*compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.9", 1) + ruleUsing("zero"), 2))
                  .ok());
  ASSERT_EQ(rt_.routes.size(), 1u);
  EXPECT_EQ(gatewayText(rt_.routes[0]), "10.0.3.9");
  EXPECT_EQ(rt_.rules.size(), 3u);
  for (bool had : rt_.table100_history) EXPECT_TRUE(had);
  EXPECT_EQ(nft_.replaces, 0) << "no set changed: the table (and its set elements) stays";
}

TEST_F(KernelSideTest, RemovedClassLeavesNothingBehind) {
  auto k = make();
  ASSERT_TRUE(k->install(*compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.1", 1) + ruleUsing("zero") +
                                  routeClass("bulk", 101, "10.0.3.1", 2) + ruleUsing("bulk")))
                  .ok());
  EXPECT_EQ(rt_.rules.size(), 4u);  // suppress (v4, v6), one IPv4 fwmark rule per class
  ASSERT_TRUE(k->apply(*compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.1", 1) + ruleUsing("zero"), 2))
                  .ok());
  EXPECT_EQ(rt_.rules.size(), 3u);
  EXPECT_EQ(tablesRouted(), (std::vector<uint32_t>{100}));
  // No route class at all: the suppress rule goes too.
  ASSERT_TRUE(k->apply(*compile(kHead, 3)).ok());
  EXPECT_TRUE(rt_.rules.empty());
  EXPECT_TRUE(rt_.routes.empty());
}

TEST_F(KernelSideTest, FailedTableReplaceRollsTheRoutesBack) {
  auto k = make();
  auto p1 = compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.1", 1) + ruleUsing("zero"));
  ASSERT_TRUE(k->install(*p1).ok());
  const auto rules_before = rt_.rules;
  nft_.fail_replace = true;
  auto p2 = compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.9", 1) + ruleUsing("zero") +
                        routeClass("bulk", 101, "10.0.3.1", 2) + ruleUsing("bulk") + kSet,
                    2);
  auto r = k->apply(*p2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context.find("nft table"), std::string::npos) << r.error().message();
  // The old route is back in its slot, the new class's rules and route are gone.
  ASSERT_EQ(rt_.routes.size(), 1u);
  EXPECT_EQ(gatewayText(rt_.routes[0]), "10.0.3.1");
  ASSERT_EQ(rt_.rules.size(), rules_before.size());
  for (size_t i = 0; i < rules_before.size(); ++i) EXPECT_TRUE(sameRule(rt_.rules[i], rules_before[i]));
  EXPECT_TRUE(nft_.sets.empty());
}

TEST_F(KernelSideTest, ChangedSetsReplaceTheTable) {
  auto k = make();
  ASSERT_TRUE(k->install(*compile(kHead)).ok());
  ASSERT_TRUE(k->apply(*compile(std::string(kHead) + kSet, 2)).ok());
  EXPECT_EQ(nft_.replaces, 1);
  ASSERT_EQ(nft_.sets.size(), 1u);
  // The same sets again: no replace (it would empty them).
  ASSERT_TRUE(k->apply(*compile(std::string(kHead) + kSet, 3)).ok());
  EXPECT_EQ(nft_.replaces, 1);
}

TEST_F(KernelSideTest, DeviceRoutesAndMissingInterfaces) {
  auto k = make();
  const std::string dev_route = "[route.lte]\ntable = 102\ndev = \"wan2\"\nfwmark = 3\n";
  ASSERT_TRUE(k->install(*compile(std::string(kHead) + dev_route + ruleUsing("lte"))).ok());
  // A device route in both families.
  ASSERT_EQ(rt_.routes.size(), 2u);
  EXPECT_EQ(rt_.routes[0].oif, std::optional<uint32_t>(7));
  rt_.interfaces.clear();
  auto r = k->apply(*compile(std::string(kHead) + dev_route + ruleUsing("lte"), 2));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().context.find("route 'lte'"), std::string::npos);
  EXPECT_EQ(rt_.routes.size(), 2u);
}

TEST_F(KernelSideTest, RemoveRoutesClearsEverything) {
  auto k = make();
  ASSERT_TRUE(k->install(*compile(std::string(kHead) + routeClass("zero", 100, "10.0.3.1", 1) + ruleUsing("zero")))
                  .ok());
  k->removeRoutes();
  EXPECT_TRUE(rt_.rules.empty());
  EXPECT_TRUE(rt_.routes.empty());
}

}  // namespace
}  // namespace fg::daemon
