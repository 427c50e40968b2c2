// Rule order, shadow rules, disabled rules, exemptions, actions (class, route,
// sets, log), the default action and the "final" flag.
#include "tests/policy/policy_test_util.h"

namespace fg::policy {
namespace {

using testing::ip;
using testing::mondayNoonUtc;
using testing::mustCompile;
using testing::webFlow;

TEST(RulesTest, FirstMatchingRuleWins) {
  auto p = mustCompile(R"(
[[rule]]
name = "video"
match = { application = "NetFlix" }
action = "drop"
[[rule]]
name = "tls-443"
match = { l7_protocol = "TLS", dst_port = 443 }
action = "reject"
[[rule]]
name = "all-tls"
match = { l7_protocol = "TLS" }
action = "drop"
)");
  Decision d = p->evaluate(webFlow(), mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "tls-443");
  EXPECT_EQ(d.verdict, Verdict::Reject);

  FlowFacts f = webFlow();
  f.application = "NetFlix";
  d = p->evaluate(f, mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "video");

  f.dst_port = 8443;
  f.application = "TLS";
  d = p->evaluate(f, mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "all-tls");
}

TEST(RulesTest, OrderAcrossIndexesFollowsFileOrder) {
  // The generic rule comes first in the file, so it must win over the indexed
  // one even though they live in different index lists.
  auto p = mustCompile(R"(
[[rule]]
name = "port-443"
match = { dst_port = 443 }
action = "reject"
[[rule]]
name = "by-host"
match = { hostname = "*.example.com" }
action = "drop"
)");
  EXPECT_EQ(p->ruleName(p->evaluate(webFlow(), mondayNoonUtc()).rule), "port-443");
}

TEST(RulesTest, DefaultActionWhenNothingMatches) {
  auto p = mustCompile(R"(
[policy]
default_action = "drop"
default_log = true
[[rule]]
name = "dns"
match = { l7_protocol = "DNS" }
)");
  const Decision d = p->evaluate(webFlow(), mondayNoonUtc());
  EXPECT_EQ(d.rule, Decision::kNone);
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_TRUE(d.log);
  EXPECT_EQ(p->ruleName(d.rule), "");
}

TEST(RulesTest, ShadowRulesReportButDoNotDecide) {
  auto p = mustCompile(R"(
[[rule]]
name = "shadow-block-tls"
mode = "shadow"
match = { l7_protocol = "TLS" }
action = "drop"
[[rule]]
name = "shadow-other"
mode = "shadow"
match = { l7_protocol = "QUIC" }
action = "drop"
[[rule]]
name = "shadow-port"
mode = "shadow"
match = { dst_port = 443 }
action = "reject"
[[rule]]
name = "accept-web"
match = { category = "Web" }
log = true
[[rule]]
name = "shadow-after-decider"
mode = "shadow"
match = { l7_protocol = "TLS" }
action = "drop"
)");
  const Decision d = p->evaluate(webFlow(), mondayNoonUtc());
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(p->ruleName(d.rule), "accept-web");
  EXPECT_TRUE(d.log);
  ASSERT_EQ(d.shadowRules().size(), 2u);
  EXPECT_EQ(p->ruleName(d.shadowRules()[0]), "shadow-block-tls");
  EXPECT_EQ(p->ruleName(d.shadowRules()[1]), "shadow-port");
  EXPECT_EQ(d.shadow_matches, 2u);

  p->count(d);
  p->count(d);
  EXPECT_EQ(p->ruleHits(0), 2u);
  EXPECT_EQ(p->ruleHits(1), 0u);
  EXPECT_EQ(p->ruleHits(3), 2u);
  EXPECT_EQ(p->ruleHits(4), 0u);
}

TEST(RulesTest, ShadowOnlyPolicyFallsToDefault) {
  auto p = mustCompile(R"(
[policy]
default_action = "accept"
[[rule]]
name = "would-drop"
mode = "shadow"
match = { hostname = "*.example.com" }
action = "drop"
)");
  const Decision d = p->evaluate(webFlow(), mondayNoonUtc());
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.rule, Decision::kNone);
  ASSERT_EQ(d.shadowRules().size(), 1u);
}

TEST(RulesTest, DisabledRulesNeverMatch) {
  auto p = mustCompile(R"(
[[rule]]
name = "off"
enabled = false
match = { l7_protocol = "TLS" }
action = "drop"
)");
  EXPECT_EQ(p->evaluate(webFlow(), mondayNoonUtc()).verdict, Verdict::Accept);
  EXPECT_EQ(p->evaluateLinearScan(webFlow(), mondayNoonUtc()).verdict, Verdict::Accept);
  EXPECT_EQ(p->summary().enabled_rules, 0u);
  EXPECT_EQ(p->summary().rules, 1u);
}

TEST(RulesTest, GlobalExemptionAcceptsUntouched) {
  auto p = mustCompile(R"(
[policy]
default_action = "drop"
exempt = ["admins", "2001:db8::/32"]
[address_group]
admins = ["10.0.0.2"]
[[rule]]
name = "drop-all"
action = "drop"
)");
  Decision d = p->evaluate(webFlow(), mondayNoonUtc());
  EXPECT_TRUE(d.exempt);
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.rule, Decision::kNone);

  FlowFacts f = webFlow();
  f.src = ip("10.0.0.3");
  d = p->evaluate(f, mondayNoonUtc());
  EXPECT_FALSE(d.exempt);
  EXPECT_EQ(d.verdict, Verdict::Drop);

  f.dst = ip("2001:db8::5");  // exemption applies to either endpoint
  f.src = ip("2001:db8:1::1");
  EXPECT_TRUE(p->evaluate(f, mondayNoonUtc()).exempt);
}

TEST(RulesTest, PerRuleExemptionSkipsOnlyThatRule) {
  auto p = mustCompile(R"(
[[rule]]
name = "block-tls"
match = { l7_protocol = "TLS" }
action = "drop"
exempt = ["10.0.0.0/30"]
[[rule]]
name = "log-tls"
match = { l7_protocol = "TLS" }
log = true
)");
  Decision d = p->evaluate(webFlow(), mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "log-tls");
  FlowFacts f = webFlow();
  f.src = ip("10.0.0.9");
  d = p->evaluate(f, mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "block-tls");
}

TEST(RulesTest, ClassRouteAndSetActions) {
  auto p = mustCompile(R"(
[policy]
mark_mask = 0xff00
mark_shift = 8
[class]
video = 3
[route.uplink2]
table = 100
via = "10.0.3.1"
dev = "wan2"
fwmark = 0x10
fwmark_mask = 0xf0
[set.servers4]
family = "ipv4"
timeout = "1h"
[set.servers6]
family = "ipv6"
[set.clients]
family = "ipv4"
address = "src"
timeout = 600
[[rule]]
name = "video"
match = { category = "Video" }
class = "video"
route = "uplink2"
add_to_set = ["servers4", "servers6", "clients"]
log = true
)");
  FlowFacts f = webFlow();
  f.category = "Video";
  const Decision d = p->evaluate(f, mondayNoonUtc());
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.mark, 0x1300u);  // class 3 << 8 | route 0x10 << 8
  EXPECT_EQ(d.mark_mask, 0xff00u);
  ASSERT_NE(d.route, Decision::kNone);
  EXPECT_EQ(p->routes()[d.route].name, "uplink2");
  EXPECT_EQ(d.route_table, 100u);
  EXPECT_EQ(d.route_fwmark, 0x1000u);
  EXPECT_TRUE(d.log);
  ASSERT_EQ(d.setAdditions().size(), 2u);  // servers6 skipped: IPv4 flow
  EXPECT_EQ(p->sets()[d.setAdditions()[0].set].name, "servers4");
  EXPECT_EQ(d.setAdditions()[0].address, ip("93.184.216.34"));
  EXPECT_EQ(p->sets()[d.setAdditions()[0].set].timeout_s, 3600u);
  EXPECT_EQ(p->sets()[d.setAdditions()[1].set].name, "clients");
  EXPECT_EQ(d.setAdditions()[1].address, ip("10.0.0.2"));
  EXPECT_EQ(p->sets()[d.setAdditions()[1].set].timeout_s, 600u);
  EXPECT_EQ(p->classes()[0].mark, 0x300u);
  EXPECT_EQ(p->routes()[0].fwmark_mask, 0xf000u);
}

TEST(RulesTest, DropWithSetAdditions) {
  auto p = mustCompile(R"(
[set.blocked]
family = "ipv4"
address = "src"
[[rule]]
name = "bad-ja3"
match = { ja3c = "dff8a0aa1c904aaea76c5bf624e88333" }
action = "drop"
add_to_set = "blocked"
)");
  FlowFacts f = webFlow();
  f.ja3c = "dff8a0aa1c904aaea76c5bf624e88333";
  const Decision d = p->evaluate(f, mondayNoonUtc());
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.mark_mask, 0u);
  ASSERT_EQ(d.setAdditions().size(), 1u);
  EXPECT_EQ(d.setAdditions()[0].address, ip("10.0.0.2"));
}

// ---- kernel-bound sets ----

TEST(RulesTest, SetKernelBindings) {
  auto p = mustCompile(R"(
[policy]
mark_mask = 0xff00
mark_shift = 8
[class]
video = 3
bulk = 5
[route.uplink2]
table = 100
fwmark = 0x10
fwmark_mask = 0xf0
[set.plain]
family = "ipv4"
timeout = "1h"
[set.accept-only]
family = "ipv4"
verdict = "accept"
[set.routed]
family = "ipv4"
route = "uplink2"
timeout = 600
[set.classed]
family = "ipv6"
class = "bulk"
[set.both]
family = "ipv4"
address = "dst"
route = "uplink2"
class = "video"
[set.blocked]
family = "ipv4"
verdict = "drop"
[set.rejected6]
family = "ipv6"
verdict = "reject"
timeout = "10m"
[set.clients]
family = "ipv4"
address = "src"
)");
  auto set = [&](std::string_view name) -> const SetInfo& {
    for (const auto& s : p->sets())
      if (s.name == name) return s;
    ADD_FAILURE() << "no set " << name;
    static const SetInfo none;
    return none;
  };
  for (const char* name : {"plain", "accept-only", "clients"}) {
    SCOPED_TRACE(name);
    const SetInfo& s = set(name);
    EXPECT_FALSE(s.bound());
    EXPECT_EQ(s.bind_mark, 0u);
    EXPECT_EQ(s.bind_route, Decision::kNone);
    EXPECT_EQ(s.bind_class, Decision::kNone);
    EXPECT_EQ(s.bind_verdict, Verdict::Accept);
  }
  EXPECT_EQ(set("plain").timeout_s, 3600u);

  const SetInfo& routed = set("routed");
  EXPECT_TRUE(routed.bound());
  EXPECT_EQ(routed.bind_mark, 0x1000u);  // fwmark 0x10 << 8, as a rule's route action
  ASSERT_NE(routed.bind_route, Decision::kNone);
  EXPECT_EQ(p->routes()[routed.bind_route].name, "uplink2");
  EXPECT_EQ(routed.bind_class, Decision::kNone);
  EXPECT_EQ(routed.bind_verdict, Verdict::Accept);
  EXPECT_EQ(routed.timeout_s, 600u);

  const SetInfo& classed = set("classed");
  EXPECT_TRUE(classed.bound());
  EXPECT_EQ(classed.family, IpFamily::V6);
  EXPECT_EQ(classed.bind_mark, 0x500u);  // class 5 << 8
  EXPECT_EQ(classed.bind_route, Decision::kNone);
  ASSERT_NE(classed.bind_class, Decision::kNone);
  EXPECT_EQ(p->classes()[classed.bind_class].name, "bulk");

  const SetInfo& both = set("both");
  EXPECT_TRUE(both.bound());
  EXPECT_EQ(both.bind_mark, 0x1300u);  // class 3 << 8 | route 0x10 << 8
  ASSERT_NE(both.bind_route, Decision::kNone);
  ASSERT_NE(both.bind_class, Decision::kNone);
  EXPECT_EQ(p->classes()[both.bind_class].name, "video");

  const SetInfo& blocked = set("blocked");
  EXPECT_TRUE(blocked.bound());
  EXPECT_EQ(blocked.bind_verdict, Verdict::Drop);
  EXPECT_EQ(blocked.bind_mark, 0u);
  EXPECT_EQ(blocked.bind_route, Decision::kNone);
  EXPECT_EQ(blocked.bind_class, Decision::kNone);

  const SetInfo& rejected = set("rejected6");
  EXPECT_TRUE(rejected.bound());
  EXPECT_EQ(rejected.bind_verdict, Verdict::Reject);
  EXPECT_EQ(rejected.bind_mark, 0u);
  EXPECT_EQ(rejected.timeout_s, 600u);
}

TEST(RulesTest, BindingMarkEqualsTheRuleActionMark) {
  // A set bound to a class and a route carries the same mark bits a rule
  // with that class and route would set.
  auto p = mustCompile(R"(
[policy]
mark_mask = 0xff0
mark_shift = 4
[class]
realtime = 2
[route.zero-rated]
table = 100
fwmark = 0x20
fwmark_mask = 0xf0
[set.netflix4]
family = "ipv4"
route = "zero-rated"
class = "realtime"
[[rule]]
name = "video"
match = { category = "Video" }
class = "realtime"
route = "zero-rated"
add_to_set = "netflix4"
)");
  FlowFacts f = webFlow();
  f.category = "Video";
  const Decision d = p->evaluate(f, mondayNoonUtc());
  EXPECT_EQ(d.mark, 0x220u);
  ASSERT_EQ(p->sets().size(), 1u);
  EXPECT_EQ(p->sets()[0].bind_mark, d.mark);
  EXPECT_EQ(p->sets()[0].bind_route, d.route);
  // A bound set is still filled by add_to_set as before.
  ASSERT_EQ(d.setAdditions().size(), 1u);
  EXPECT_EQ(d.setAdditions()[0].address, ip("93.184.216.34"));
}

TEST(RulesTest, RouteMarkMaskIsTheUnionOfRouteMasks) {
  EXPECT_EQ(PolicySet::empty()->routeMarkMask(), 0u);
  EXPECT_EQ(mustCompile("[class]\nbulk = 1\n")->routeMarkMask(), 0u);

  auto p = mustCompile(R"(
[policy]
mark_mask = 0xff00
mark_shift = 8
[route.a]
table = 100
fwmark = 0x10
fwmark_mask = 0x30
[route.b]
table = 101
fwmark = 0x40
fwmark_mask = 0xc0
)");
  EXPECT_EQ(p->routes()[0].fwmark_mask | p->routes()[1].fwmark_mask, 0xf000u);
  EXPECT_EQ(p->routeMarkMask(), 0xf000u);

  // Without fwmark_mask a route compares all of mark_mask.
  auto q = mustCompile(R"(
[policy]
mark_mask = 0xff00
mark_shift = 8
[route.a]
table = 100
fwmark = 1
)");
  EXPECT_EQ(q->routeMarkMask(), 0xff00u);
}

TEST(RulesTest, RouteForMarkAndKeepRoute) {
  // Routes with bits of their own (0xf000): the class survives the swap.
  auto p = mustCompile(R"(
[policy]
mark_mask = 0xff00
mark_shift = 8
[class]
video = 0x02
[route.a]
table = 100
fwmark = 0x10
fwmark_mask = 0xf0
)");
  EXPECT_EQ(p->routeForMark(0x1000), 0u);
  EXPECT_EQ(p->routeForMark(0x1200), 0u);
  EXPECT_EQ(p->routeForMark(0x0200), Decision::kNone);
  EXPECT_EQ(p->keepRoute(0x1200, 0, 0xff00), 0x0200u) << "no route pinned: the route goes, the class stays";
  EXPECT_EQ(p->keepRoute(0x0200, 0x1000, 0xff00), 0x1200u) << "pinned route added, class kept";
  EXPECT_EQ(p->keepRoute(0x1200, 0x1000, 0xff00), 0x1200u) << "same route: unchanged";

  // Classes and routes share the field (the default fwmark_mask): values
  // tell them apart, and the pinned route wins over the class.
  auto q = mustCompile(R"(
[policy]
mark_mask = 0xff00
mark_shift = 8
[class]
realtime = 1
[route.zero]
table = 100
fwmark = 16
)");
  EXPECT_EQ(q->routeForMark(0x1000), 0u);
  EXPECT_EQ(q->routeForMark(0x0100), Decision::kNone);
  EXPECT_EQ(q->keepRoute(0x0100, 0, 0xff00), 0x0100u) << "a class selects no route: unchanged";
  EXPECT_EQ(q->keepRoute(0x1000, 0, 0xff00), 0u) << "the route is dropped";
  EXPECT_EQ(q->keepRoute(0x0100, 0x1000, 0xff00), 0x1000u) << "the pinned route wins the shared field";
}

// ---- finality ----

struct FinalCase {
  std::string name;
  uint8_t pending;
  std::function<void(FlowFacts&)> facts;
  std::string rule;  // expected deciding rule ("" = default)
  bool final;
  friend void PrintTo(const FinalCase& c, std::ostream* os) { *os << c.name; }
};

class FinalTest : public ::testing::TestWithParam<FinalCase> {};

TEST_P(FinalTest, ReportsWhetherMoreMetadataCouldChangeTheDecision) {
  auto p = mustCompile(R"(
[[rule]]
name = "weak"
match = { cipher_strength = ["insecure", "weak"], dst_port = 443 }
action = "reject"
[[rule]]
name = "netflix"
match = { application = "NetFlix" }
action = "drop"
[[rule]]
name = "ssh"
match = { dst_port = 22 }
action = "drop"
)");
  const auto& c = GetParam();
  FlowFacts f = webFlow();
  f.pending = c.pending;
  c.facts(f);
  const Decision d = p->evaluate(f, mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), c.rule);
  EXPECT_EQ(d.final, c.final);
  const Decision l = p->evaluateLinearScan(f, mondayNoonUtc());
  EXPECT_EQ(l.final, d.final);
}

const FinalCase kFinalCases[] = {
    {"nothing_pending", kPendingNone, [](FlowFacts&) {}, "", true},
    // The SNI is known, the cipher not: rule "weak" could still match.
    {"cipher_pending_port_443", kPendingTlsServerHello,
     [](FlowFacts& f) { f.cipher_id = 0; f.cipher_strength = CipherStrength::Unknown; }, "", false},
    // On port 8443 rule "weak" can never match whatever the cipher.
    {"cipher_pending_other_port", kPendingTlsServerHello,
     [](FlowFacts& f) { f.dst_port = 8443; f.cipher_id = 0; f.cipher_strength = CipherStrength::Unknown; }, "", true},
    // Decided by "ssh" (port 22): "weak" cannot match on port 22; "netflix"
    // could, but it would drop too: the outcome cannot change, so final.
    {"classification_pending_before_decider_same_effect", kPendingClassification,
     [](FlowFacts& f) { f.dst_port = 22; f.application.clear(); }, "ssh", true},
    // Decided by the default (accept) on port 443 while classification is
    // pending: "netflix" (drop) could still match: not final.
    {"classification_pending_other_effect", kPendingClassification,
     [](FlowFacts& f) { f.application.clear(); f.cipher_strength = CipherStrength::Strong; }, "", false},
    // Decided by "netflix" with only the TLS hello pending: "weak" (earlier) is
    // impossible on port 80.
    {"decided_by_app_tls_pending", kPendingTlsServerHello,
     [](FlowFacts& f) { f.application = "NetFlix"; f.dst_port = 80; }, "netflix", true},
    // The deciding rule itself reads pending metadata.
    {"decider_reads_pending", kPendingClassification,
     [](FlowFacts& f) { f.application = "NetFlix"; f.dst_port = 80; }, "netflix", false},
};

INSTANTIATE_TEST_SUITE_P(Pending, FinalTest, ::testing::ValuesIn(kFinalCases),
                         [](const ::testing::TestParamInfo<FinalCase>& info) { return info.param.name; });

TEST(RulesTest, ExemptFlowIsFinal) {
  auto p = mustCompile(R"(
[policy]
exempt = ["10.0.0.2"]
[[rule]]
name = "weak"
match = { cipher_strength = "weak" }
action = "reject"
)");
  FlowFacts f = webFlow();
  f.pending = kPendingTlsServerHello;
  EXPECT_TRUE(p->evaluate(f, mondayNoonUtc()).final);
}

TEST(RulesTest, EmptyPolicyAcceptsEverything) {
  auto p = PolicySet::empty();
  const Decision d = p->evaluate(webFlow(), mondayNoonUtc());
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_EQ(d.generation, 0u);
  EXPECT_TRUE(d.final);
}

}  // namespace
}  // namespace fg::policy
