// Every file in policies/ loads, and each decides its use case as documented.
#include <filesystem>

#include "tests/policy/policy_test_util.h"

#ifdef FLOWGATE_WITH_NDPI_CATALOG
#include "catalog/catalog.h"
#include "gateway/dpi/ndpi_catalog.h"
#endif

namespace fg::policy {
namespace {

using testing::ip;
using testing::webFlow;

const std::string kPolicies = std::string(FLOWGATE_SOURCE_DIR) + "/policies";

LoadOptions shippedOptions() {
  LoadOptions o;
#ifdef FLOWGATE_WITH_NDPI_CATALOG
  // Validate the names against the nDPI this build links and the shipped
  // application catalog, as flowgate does.
  static const NameCatalog catalog = [] {
    NameCatalog names = dpi::ndpiNameCatalog();
    auto apps = catalog::loadCatalogDirs(std::string(FLOWGATE_SOURCE_DIR) + "/apps", "");
    EXPECT_TRUE(apps.ok());
    if (apps.ok()) apps.value()->addNames(names);
    return names;
  }();
  o.catalog = &catalog;
#endif
  return o;
}

std::shared_ptr<const PolicySet> loadShipped(const std::string& name) {
  const std::vector<std::string> paths{kPolicies + "/" + name};
  auto r = loadPolicy(paths, shippedOptions(), 1);
  if (!r.ok()) {
    std::string all;
    for (const auto& e : r.errors()) all += formatError(e) + "\n";
    ADD_FAILURE() << all;
    return PolicySet::empty();
  }
  return r.value();
}

TEST(ShippedPoliciesTest, EveryFileLoads) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kPolicies)) {
    if (entry.path().extension() != ".toml") continue;
    ++n;
    const std::vector<std::string> paths{entry.path().string()};
    auto r = loadPolicy(paths, shippedOptions(), 1);
    EXPECT_TRUE(r.ok()) << entry.path() << ": " << (r.ok() ? "" : formatError(r.errors()[0]));
    if (r.ok()) {
      EXPECT_GT(r.value()->summary().enabled_rules, 0u) << entry.path();
      // Examples users copy: no rule may route a family its route lacks.
      for (const auto& w : r.value()->warnings()) ADD_FAILURE() << "warning: " << formatError(w);
    }
  }
  EXPECT_GE(n, 4u);
}

// The directory as a whole (what an operator gets by copying all of it, and
// what `flowgate policy check policies/` checks): the files agree on the
// shared settings and mark layout, and each use case still decides as alone
// (files load in name order: the first matching rule wins).
TEST(ShippedPoliciesTest, TheDirectoryLoadsAsAWhole) {
  const std::vector<std::string> paths{kPolicies};
  auto r = loadPolicy(paths, shippedOptions(), 1);
  ASSERT_TRUE(r.ok()) << formatError(r.errors()[0]);
  const auto& p = r.value();
  FlowFacts nf = webFlow();
  nf.application = "NetFlix";
  Decision d = p->evaluate(nf, testing::mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "zero-rate-netflix");
  EXPECT_EQ(d.mark, 0x1000u);
  FlowFacts bt = webFlow();
  bt.application = "BitTorrent";
  bt.l7_protocol = "BitTorrent";
  bt.category = "Download";
  d = p->evaluate(bt, testing::mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "bittorrent-scavenger");
  EXPECT_EQ(d.mark, 0x400u);
}

TEST(ShippedPoliciesTest, BlockWeakTls) {
  auto p = loadShipped("10-block-weak-tls.toml");
  const auto now = testing::mondayNoonUtc();
  EXPECT_EQ(p->evaluate(webFlow(), now).verdict, Verdict::Accept);

  FlowFacts old = webFlow();
  old.tls_version = 0x0301;  // TLSv1
  Decision d = p->evaluate(old, now);
  EXPECT_EQ(d.verdict, Verdict::Reject);
  EXPECT_EQ(p->ruleName(d.rule), "reject-old-tls-versions");
  EXPECT_TRUE(d.log);

  FlowFacts rc4 = webFlow();
  rc4.cipher_id = 0x0004;  // TLS_RSA_WITH_RC4_128_MD5 with TLSv1.2 (webex in the corpus)
  rc4.cipher_strength = CipherStrength::Insecure;
  EXPECT_EQ(p->ruleName(p->evaluate(rc4, now).rule), "reject-weak-ciphers");

  FlowFacts legacy = old;
  legacy.src = ip("192.0.2.10");
  EXPECT_TRUE(p->evaluate(legacy, now).exempt);

  FlowFacts pending = webFlow();
  pending.cipher_id = 0;
  pending.tls_version = 0;
  pending.cipher_strength = CipherStrength::Unknown;
  pending.pending = kPendingTlsServerHello;
  d = p->evaluate(pending, now);
  EXPECT_EQ(d.verdict, Verdict::Accept);
  EXPECT_FALSE(d.final);

  FlowFacts http11 = webFlow();
  http11.alpn = {"http/1.1"};
  d = p->evaluate(http11, now);
  EXPECT_EQ(d.verdict, Verdict::Accept);
  ASSERT_EQ(d.shadowRules().size(), 1u);
  EXPECT_EQ(p->ruleName(d.shadowRules()[0]), "audit-tls12-without-h2");
}

TEST(ShippedPoliciesTest, ZeroRateNetflix) {
  auto p = loadShipped("20-zero-rate-netflix.toml");
  FlowFacts f = webFlow();
  f.application = "NetFlix";
  Decision d = p->evaluate(f, testing::mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "zero-rate-netflix");
  ASSERT_NE(d.route, Decision::kNone);
  EXPECT_EQ(p->routes()[d.route].name, "zero-rated");
  EXPECT_EQ(d.route_table, 100u);
  EXPECT_EQ(d.mark, 0x1000u);
  EXPECT_EQ(d.mark_mask, 0xff00u);
  ASSERT_EQ(d.setAdditions().size(), 1u);
  EXPECT_EQ(p->sets()[d.setAdditions()[0].set].name, "netflix4");
  EXPECT_EQ(d.setAdditions()[0].address, ip("93.184.216.34"));

  FlowFacts byHost = webFlow();
  byHost.hostname = "ipv6-c001-fra001-ix.1.oca.nflxvideo.net";
  byHost.dst = ip("2a00:86c0:1::1");
  byHost.src = ip("2001:db8::2");
  d = p->evaluate(byHost, testing::mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "zero-rate-netflix-hosts");
  ASSERT_EQ(d.setAdditions().size(), 1u);
  EXPECT_EQ(p->sets()[d.setAdditions()[0].set].name, "netflix6");

  EXPECT_EQ(p->evaluate(webFlow(), testing::mondayNoonUtc()).route, Decision::kNone);
}

TEST(ShippedPoliciesTest, QosGaming) {
  auto p = loadShipped("40-qos-gaming.toml");
  auto classOf = [&](const FlowFacts& f, std::chrono::system_clock::time_point t) -> std::string {
    const Decision d = p->evaluate(f, t);
    for (const auto& c : p->classes())
      if (d.mark_mask != 0 && c.mark == d.mark) return c.name;
    return "";
  };
  const auto sunday = testing::utcTime(2024, 1, 21, 12, 0);
  const auto mondayMorningBerlin = testing::utcTime(2024, 1, 15, 8, 0);  // 09:00 Berlin
  FlowFacts zoom = webFlow();
  zoom.application = "Zoom";
  zoom.ip_proto = 17;
  EXPECT_EQ(classOf(zoom, sunday), "realtime");
  FlowFacts game = webFlow();
  game.application = "Steam";
  game.category = "Game";
  game.ip_proto = 17;
  EXPECT_EQ(classOf(game, sunday), "realtime");
  game.ip_proto = 6;
  EXPECT_EQ(classOf(game, sunday), "bulk");
  // Fortnite (flowgate's catalog) is realtime over TCP (its TLS services) too.
  FlowFacts fortnite = webFlow();
  fortnite.application = "Fortnite";
  fortnite.category = "Game";
  fortnite.ip_proto = 6;
  EXPECT_EQ(classOf(fortnite, mondayMorningBerlin), "realtime");
  fortnite.ip_proto = 17;
  EXPECT_EQ(classOf(fortnite, sunday), "realtime");
  FlowFacts download = webFlow();
  download.category = "Download";
  EXPECT_EQ(classOf(download, sunday), "bulk");
  EXPECT_EQ(classOf(webFlow(), sunday), "");
  EXPECT_EQ(classOf(webFlow(), mondayMorningBerlin), "interactive");
}

TEST(ShippedPoliciesTest, BittorrentBulk) {
  auto p = loadShipped("30-bittorrent-bulk.toml");
  FlowFacts bt = webFlow();
  bt.application = "BitTorrent";
  bt.l7_protocol = "BitTorrent";
  bt.category = "Download";
  Decision d = p->evaluate(bt, testing::mondayNoonUtc());
  EXPECT_EQ(p->ruleName(d.rule), "bittorrent-scavenger");
  EXPECT_EQ(d.mark, 0x400u);
  EXPECT_EQ(d.mark_mask, 0xff00u);
  bt.src = ip("192.0.2.50");
  d = p->evaluate(bt, testing::mondayNoonUtc());
  EXPECT_EQ(d.rule, Decision::kNone);
  EXPECT_EQ(d.mark_mask, 0u);
}

#ifdef FLOWGATE_WITH_NDPI_CATALOG
TEST(NdpiCatalogTest, HasProtocolsAndCategories) {
  const NameCatalog c = dpi::ndpiNameCatalog();
  EXPECT_GT(c.protocols.size(), 200u);
  EXPECT_GT(c.categories.size(), 20u);
  EXPECT_NE(std::find(c.protocols.begin(), c.protocols.end(), "NetFlix"), c.protocols.end());
  EXPECT_NE(std::find(c.categories.begin(), c.categories.end(), "Video"), c.categories.end());
}

TEST(NdpiCatalogTest, SuggestsNdpiNames) {
  const std::vector<PolicySource> src{{"p.toml", "[[rule]]\nname = \"r\"\nmatch = { application = \"Netflx\" }\n"}};
  auto r = compilePolicy(src, shippedOptions(), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.errors()[0].message, ::testing::HasSubstr("did you mean 'NetFlix'?"));
}
#endif

}  // namespace
}  // namespace fg::policy
