// Verified names (docs/policy.md): rules that route, class or add to sets
// act only on verified names by default; sets never learn from unverified
// names; [verified_ranges].
#include "tests/policy/policy_test_util.h"
#include "policy/record_json.h"

namespace fg::policy {
namespace {

using testing::ip;
using testing::mondayNoonUtc;
using testing::mustCompile;

const char* const kZeroRate = R"(
[route.zero]
table = 100
fwmark = 1
[set.zero_rated]
family = "ipv4"
timeout = 3600
[[rule]]
name = "block-bad"
match = { hostname = "*.bad.example" }
action = "drop"
[[rule]]
name = "zero-rate-netflix"
match = { application = "NetFlix", not_l7_protocol = "DNS" }
route = "zero"
add_to_set = "zero_rated"
[[rule]]
name = "log-tls"
match = { l7_protocol = "TLS" }
log = true
)";

FlowFacts netflix(NameCheck check) {
  FlowFacts f = testing::webFlow();
  f.application = "NetFlix";
  f.hostname = "www.netflix.com";
  f.name_check = check;
  return f;
}

TEST(VerifiedNames, DefaultsFollowTheActions) {
  auto p = mustCompile(kZeroRate);
  ASSERT_EQ(p->ruleCount(), 3u);
  EXPECT_FALSE(p->rule(0).require_verified_name);  // verdict only
  EXPECT_TRUE(p->rule(0).reads_name);
  EXPECT_TRUE(p->rule(1).require_verified_name);   // routes and adds to a set
  EXPECT_FALSE(p->rule(2).require_verified_name);  // no name in the match
  EXPECT_FALSE(p->rule(2).reads_name);
}

TEST(VerifiedNames, UnverifiedMatchGetsNoMatchAndEvaluationGoesOn) {
  auto p = mustCompile(kZeroRate);
  const Decision d = p->evaluate(netflix(NameCheck::Unverified), mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "log-tls");  // the next rule decides
  EXPECT_EQ(d.route, Decision::kNone);
  EXPECT_EQ(d.set_count, 0);
  ASSERT_EQ(d.unverified_count, 1);
  EXPECT_EQ(p->ruleName(d.unverified_rules[0]), "zero-rate-netflix");
  EXPECT_EQ(d.unverified_matches, 1u);
}

TEST(VerifiedNames, VerifiedAndNamelessFlowsMatch) {
  auto p = mustCompile(kZeroRate);
  for (NameCheck c : {NameCheck::Verified, NameCheck::None}) {
    const Decision d = p->evaluate(netflix(c), mondayNoonUtc());
    EXPECT_EQ(p->ruleName(d.rule), "zero-rate-netflix") << toString(c);
    EXPECT_NE(d.route, Decision::kNone);
    ASSERT_EQ(d.set_count, 1);
    EXPECT_EQ(d.sets[0].address, ip("93.184.216.34"));
    EXPECT_EQ(d.unverified_count, 0);
  }
}

TEST(VerifiedNames, BlocksActOnUnverifiedNames) {
  auto p = mustCompile(kZeroRate);
  FlowFacts f = testing::webFlow();
  f.hostname = "x.bad.example";
  f.name_check = NameCheck::Unverified;
  const Decision d = p->evaluate(f, mondayNoonUtc());
  EXPECT_EQ(d.verdict, Verdict::Drop);
  EXPECT_EQ(d.unverified_count, 0);
}

TEST(VerifiedNames, ExplicitSettingsOverrideTheDefault) {
  auto p = mustCompile(R"(
[route.zero]
table = 100
fwmark = 1
[set.zero_rated]
family = "ipv4"
timeout = 3600
[[rule]]
name = "strict-block"
match = { hostname = "*.bad.example" }
action = "drop"
require_verified_name = true
[[rule]]
name = "lenient-route"
match = { application = "NetFlix" }
route = "zero"
add_to_set = "zero_rated"
require_verified_name = false
)");
  ASSERT_EQ(p->ruleCount(), 2u);
  EXPECT_TRUE(p->rule(0).require_verified_name);
  EXPECT_FALSE(p->rule(1).require_verified_name);
  FlowFacts bad = testing::webFlow();
  bad.hostname = "x.bad.example";
  bad.name_check = NameCheck::Unverified;
  EXPECT_EQ(p->evaluate(bad, mondayNoonUtc()).verdict, Verdict::Accept);
  // Routed on the client's word, but the set never learns the address.
  const Decision d = p->evaluate(netflix(NameCheck::Unverified), mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "lenient-route");
  EXPECT_NE(d.route, Decision::kNone);
  EXPECT_EQ(d.set_count, 0);
  EXPECT_EQ(p->evaluate(netflix(NameCheck::Verified), mondayNoonUtc()).set_count, 1);
}

TEST(VerifiedNames, RequiringItWithoutANameIsAnError) {
  auto r = testing::compileText(R"(
[[rule]]
name = "by-port"
match = { dst_port = 443 }
action = "drop"
require_verified_name = true
)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors()[0].key, "rule[by-port].require_verified_name");
  EXPECT_THAT(r.errors()[0].message, ::testing::HasSubstr("matches no name"));
}

TEST(VerifiedNames, PendingCertificateKeepsTheDecisionOpen) {
  auto p = mustCompile(kZeroRate);
  FlowFacts f = netflix(NameCheck::Unverified);
  f.pending = kPendingTlsServerHello;  // the certificate may still verify the name
  EXPECT_FALSE(p->evaluate(f, mondayNoonUtc()).final);
  EXPECT_FALSE(p->evaluateLinearScan(f, mondayNoonUtc()).final);
  f.pending = kPendingNone;
  EXPECT_TRUE(p->evaluate(f, mondayNoonUtc()).final);
}

TEST(VerifiedNames, UnverifiedMatchesAreCountedPerRule) {
  auto p = mustCompile(kZeroRate);
  for (int i = 0; i < 3; ++i) p->count(p->evaluate(netflix(NameCheck::Unverified), mondayNoonUtc()));
  p->count(p->evaluate(netflix(NameCheck::Verified), mondayNoonUtc()));
  EXPECT_EQ(p->ruleUnverified(1), 3u);
  EXPECT_EQ(p->ruleHits(1), 1u);
  EXPECT_EQ(p->ruleHits(2), 3u);
  EXPECT_EQ(p->ruleUnverified(0), 0u);
}

TEST(VerifiedNames, ShadowRulesAreSetAsideToo) {
  auto p = mustCompile(R"(
[class]
video = 2
[[rule]]
name = "try-video"
mode = "shadow"
match = { application = "NetFlix" }
class = "video"
)");
  const Decision d = p->evaluate(netflix(NameCheck::Unverified), mondayNoonUtc());
  EXPECT_EQ(d.shadow_count, 0);
  EXPECT_EQ(d.unverified_count, 1);
}

TEST(VerifiedRanges, AddressesAndGroups) {
  auto p = mustCompile(R"(
[address_group]
nflx = ["198.51.100.0/24", "2001:db8:5::/48"]
[verified_ranges]
netflix = ["nflx", "203.0.113.7"]
)");
  EXPECT_TRUE(p->inVerifiedRanges("NetFlix", ip("198.51.100.9")));
  EXPECT_TRUE(p->inVerifiedRanges("NETFLIX", ip("2001:db8:5::1")));
  EXPECT_TRUE(p->inVerifiedRanges("NetFlix", ip("203.0.113.7")));
  EXPECT_FALSE(p->inVerifiedRanges("NetFlix", ip("203.0.113.8")));
  EXPECT_FALSE(p->inVerifiedRanges("YouTube", ip("198.51.100.9")));
  EXPECT_FALSE(PolicySet::empty()->inVerifiedRanges("NetFlix", ip("198.51.100.9")));
}

TEST(VerifiedRanges, UnknownApplicationAndBadAddressAreErrors) {
  auto r = testing::compileText(R"(
[verified_ranges]
NetFlux = ["198.51.100.0/24"]
YouTube = ["nope"]
)");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 2u);
  EXPECT_EQ(r.errors()[0].key, "verified_ranges.NetFlux");
  EXPECT_EQ(r.errors()[1].key, "verified_ranges.YouTube");
}

TEST(VerifiedNames, RecordsCarryTheVerification) {
  auto f = factsFromRecord(nlohmann::json{{"hostname", "www.netflix.com"}, {"name_verified", false}});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value().name_check, NameCheck::Unverified);
  f = factsFromRecord(nlohmann::json{{"name_verified", true}});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value().name_check, NameCheck::Verified);
  f = factsFromRecord(nlohmann::json{{"hostname", "x"}});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value().name_check, NameCheck::None);
  EXPECT_FALSE(factsFromRecord(nlohmann::json{{"name_verified", "yes"}}).ok());
  auto p = mustCompile(kZeroRate);
  const auto j = decisionToJson(p->evaluate(netflix(NameCheck::Unverified), mondayNoonUtc()), *p);
  EXPECT_EQ(j["unverified_rules"], nlohmann::json::array({"zero-rate-netflix"}));
}

}  // namespace
}  // namespace fg::policy
