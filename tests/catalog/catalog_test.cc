// The application catalog: loading (every error located), the matcher
// (exact, suffix, anchored label, longest prefix, port hints), operator
// entries over shipped ones, and the shipped files themselves.
#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "gateway/dpi/ndpi_catalog.h"

namespace fg::catalog {
namespace {

std::shared_ptr<const Catalog> load(std::vector<CatalogSource> sources) {
  auto r = loadCatalog(sources);
  if (!r.ok()) {
    for (const auto& e : r.errors()) ADD_FAILURE() << policy::formatError(e);
    return std::make_shared<Catalog>();
  }
  return r.value();
}

policy::LoadErrors errorsOf(std::vector<CatalogSource> sources) {
  auto r = loadCatalog(sources);
  EXPECT_FALSE(r.ok());
  return r.ok() ? policy::LoadErrors{} : r.errors();
}

std::string nameOf(const Match& m) { return m ? m.app->name : "-"; }

const char* kBase = R"(
[[app]]
name = "EpicGames"
category = "Game"
hosts = ["epicgames.com", "*.epicgames.com"]

[[app]]
name = "Fortnite"
category = "Game"
refines = ["EpicGames"]
hosts = ["fortnite.com", "*.fortnite.com", "fortnite*.ol.epicgames.com"]

[[app]]
name = "Cloudflare"
category = "Cloud"
owner = true
hosts = ["*.cloudflare.com"]
ranges = ["104.16.0.0/13", "2606:4700::/32"]

[[app]]
name = "GameServers"
category = "Game"
ranges = ["104.16.5.0/24"]
ports = [7777, "9000-9100"]

[[app]]
name = "IPSec"
category = "VPN"
aliases = ["IPsec", "STUN/Old"]
)";

TEST(CatalogMatch, ExactSuffixAndAnchoredLabel) {
  auto c = load({{.name = "base.toml", .text = kBase}});
  EXPECT_EQ(nameOf(c->matchName("epicgames.com")), "EpicGames");
  EXPECT_EQ(nameOf(c->matchName("store.epicgames.com")), "EpicGames");
  EXPECT_EQ(nameOf(c->matchName("a.b.store.EPICGAMES.com.")), "EpicGames");  // case, trailing dot
  EXPECT_EQ(nameOf(c->matchName("fortnite-public-service-prod11.ol.epicgames.com")), "Fortnite");
  EXPECT_EQ(nameOf(c->matchName("account-public-service-prod03.ol.epicgames.com")), "EpicGames");
  // The anchored label is one label only.
  EXPECT_EQ(nameOf(c->matchName("x.fortnite-a.ol.epicgames.com")), "EpicGames");
  EXPECT_EQ(nameOf(c->matchName("www.fortnite.com")), "Fortnite");
  EXPECT_EQ(nameOf(c->matchName("cloudflare.com")), "-");  // "*." is below, not at, the name
  EXPECT_EQ(nameOf(c->matchName("notepicgames.com")), "-");
  EXPECT_EQ(nameOf(c->matchName("")), "-");
  EXPECT_EQ(nameOf(c->matchName(std::string(300, 'a'))), "-");
  EXPECT_EQ(c->matchName("www.fortnite.com").pattern, "*.fortnite.com");
}

TEST(CatalogMatch, LongestPrefixAndPortHints) {
  auto c = load({{.name = "base.toml", .text = kBase}});
  auto ip = [](const char* s) { return *policy::IpAddress::parse(s); };
  EXPECT_EQ(nameOf(c->matchAddress(ip("104.17.1.1"), 443)), "Cloudflare");
  EXPECT_EQ(nameOf(c->matchAddress(ip("104.16.5.9"), 7777)), "GameServers");  // /24 beats /13
  EXPECT_EQ(nameOf(c->matchAddress(ip("104.16.5.9"), 9050)), "GameServers");
  EXPECT_EQ(nameOf(c->matchAddress(ip("104.16.5.9"), 443)), "Cloudflare");   // port not hinted
  EXPECT_EQ(nameOf(c->matchAddress(ip("104.16.5.9"), 0)), "Cloudflare");
  EXPECT_EQ(nameOf(c->matchAddress(ip("2606:4700::6810:1"), 443)), "Cloudflare");
  EXPECT_EQ(nameOf(c->matchAddress(ip("104.24.0.1"), 443)), "-");
  EXPECT_EQ(nameOf(c->matchAddress(ip("2001:db8::1"), 443)), "-");
}

TEST(CatalogMatch, NamesAliasesAndKnown) {
  auto c = load({{.name = "base.toml", .text = kBase}});
  ASSERT_NE(c->find("fortnite"), nullptr);
  EXPECT_EQ(c->find("FORTNITE")->category, "Game");
  EXPECT_TRUE(c->knows("EpicGames"));
  EXPECT_TRUE(c->knows("ipsec"));
  EXPECT_FALSE(c->knows("NetFlix"));
  ASSERT_NE(c->aliasOf("ESP", "IPsec"), nullptr);
  EXPECT_EQ(c->aliasOf("ESP", "IPsec")->name, "IPSec");
  EXPECT_EQ(c->aliasOf("STUN", "Old")->name, "IPSec");
  EXPECT_EQ(c->aliasOf("TLS", "Old"), nullptr);  // a master-qualified alias only under that master
  policy::NameCatalog names{.protocols = {"TLS", "fortnite"}, .categories = {"Web"}};
  c->addNames(names);
  EXPECT_EQ(std::count(names.protocols.begin(), names.protocols.end(), "Fortnite"), 0);  // "fortnite" known
  EXPECT_NE(std::find(names.protocols.begin(), names.protocols.end(), "EpicGames"), names.protocols.end());
  EXPECT_NE(std::find(names.categories.begin(), names.categories.end(), "Game"), names.categories.end());
}

TEST(CatalogLoad, OperatorEntriesBeatShipped) {
  const char* op = R"(
[[app]]
name = "MyEpicMirror"
category = "Download"
hosts = ["*.epicgames.com"]

[[app]]
name = "Fortnite"
hosts = ["*.fn-cdn.example.net"]
)";
  auto c = load({{.name = "base.toml", .text = kBase}, {.name = "local.toml", .text = op, .origin = Origin::Operator}});
  EXPECT_EQ(nameOf(c->matchName("store.epicgames.com")), "MyEpicMirror");
  EXPECT_EQ(nameOf(c->matchName("epicgames.com")), "EpicGames");         // exact pattern stays shipped
  EXPECT_EQ(nameOf(c->matchName("a.fn-cdn.example.net")), "Fortnite");  // extended
  EXPECT_EQ(nameOf(c->matchName("www.fortnite.com")), "Fortnite");      // kept its shipped patterns
  EXPECT_EQ(c->find("Fortnite")->origin, Origin::Operator);
  EXPECT_EQ(c->find("Fortnite")->category, "Game");
  const auto& hosts = c->find("EpicGames")->hosts;
  EXPECT_EQ(std::count(hosts.begin(), hosts.end(), "*.epicgames.com"), 0);  // moved to the operator's app
}

TEST(CatalogLoad, EveryErrorLocated) {
  const char* bad = R"([[app]]
name = "A"
category = "Game"
hosts = ["a.example.com", "*.example.com"]

[[app]]
name = "B"
category = "Game"
hosts = ["*.example.com", "b*c*.example.com", "*.com", "UPPER.example.org", "bad host"]
ranges = ["10.0.0.1/8", "10.9.0.0/16", "nonsense"]
ports = [0, "9-1"]
colour = "red"

[[app]]
name = "A"
category = "Web"

[[app]]
category = "Web"

[[app]]
name = "C"
hosts = ["c.example"]
)";
  const auto errors = errorsOf({{.name = "bad.toml", .text = bad}});
  std::vector<std::string> text;
  for (const auto& e : errors) text.push_back(policy::formatError(e));
  auto has = [&](std::string_view needle) {
    return std::any_of(text.begin(), text.end(), [&](const std::string& t) { return t.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(has("bad.toml:9:")) << ::testing::PrintToString(text);
  EXPECT_TRUE(has("\"*.example.com\" already belongs to A (bad.toml:4)"));
  EXPECT_TRUE(has("at most one '*'"));
  EXPECT_TRUE(has("two labels after it"));
  EXPECT_TRUE(has("\"bad host\""));
  EXPECT_TRUE(has("\"10.0.0.1/8\""));
  EXPECT_TRUE(has("\"nonsense\""));
  EXPECT_TRUE(has("a port is 1 to 65535"));
  EXPECT_TRUE(has("\"9-1\""));
  EXPECT_TRUE(has("colour: unknown key"));
  EXPECT_TRUE(has("application \"A\" already defined at bad.toml:1"));
  EXPECT_TRUE(has("name: missing"));
  EXPECT_TRUE(has("category: missing for application \"C\""));
  EXPECT_FALSE(has("UPPER"));  // patterns are case-insensitive, not errors
  EXPECT_TRUE(has("bad.toml:10:")) << "ranges are reported on their own line";
}

TEST(CatalogLoad, SyntaxErrorAndDuplicateRange) {
  auto e1 = errorsOf({{.name = "x.toml", .text = "[[app]\nname="}});
  ASSERT_FALSE(e1.empty());
  EXPECT_EQ(e1[0].file, "x.toml");
  EXPECT_EQ(e1[0].key, "toml");
  auto e2 = errorsOf({{.name = "y.toml", .text = R"(
[[app]]
name = "A"
category = "Game"
ranges = ["192.0.2.0/24"]
[[app]]
name = "B"
category = "Game"
ranges = ["192.0.2.0/24"]
)"}});
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(e2[0].line, 9);
  EXPECT_NE(e2[0].message.find("already belongs to A"), std::string::npos);
}

TEST(CatalogLoad, UnknownCategoryWhenValidated) {
  const std::vector<std::string> cats = {"Game", "Web"};
  auto r = loadCatalog({{.name = "z.toml", .text = "[[app]]\nname = \"A\"\ncategory = \"Gaem\"\n"}},
                       LoadOptions{.categories = &cats});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors()[0].message.find("unknown category \"Gaem\""), std::string::npos);
}

// The shipped catalog loads cleanly against the nDPI this build links, and
// every file of it is one flowgate would install.
TEST(ShippedCatalog, LoadsWithNdpiCategories) {
  const std::string dir = std::string(FLOWGATE_SOURCE_DIR) + "/apps";
  ASSERT_TRUE(std::filesystem::is_directory(dir));
  const policy::NameCatalog ndpi = dpi::ndpiNameCatalog();
  auto r = loadCatalogDirs(dir, "", LoadOptions{.categories = &ndpi.categories});
  ASSERT_TRUE(r.ok()) << policy::formatError(r.errors()[0]);
  const Catalog& c = *r.value();
  EXPECT_GT(c.apps().size(), 20u);
  ASSERT_NE(c.find("Fortnite"), nullptr);
  ASSERT_NE(c.find("EpicGames"), nullptr);
  EXPECT_EQ(nameOf(c.matchName("fortnite-public-service-prod11.ol.epicgames.com")), "Fortnite");
  for (const char* owner : {"AmazonAWS", "Cloudflare", "Google", "Azure"}) {
    ASSERT_NE(c.find(owner), nullptr) << owner;
    EXPECT_TRUE(c.find(owner)->owner) << owner;
  }
}

}  // namespace
}  // namespace fg::catalog
