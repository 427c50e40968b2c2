// Precedence of the catalog over the classifier (docs/catalog.md,
// core/app_refine.h): one case per rule, and the pipeline wiring.
#include "gateway/core/app_refine.h"

#include <gtest/gtest.h>

namespace fg::core {
namespace {

const char* kCatalog = R"(
[[app]]
name = "Fortnite"
category = "Game"
refines = ["EpicGames"]
hosts = ["*.fortnite.com"]

[[app]]
name = "EpicGames"
category = "Game"
hosts = ["*.epicgames.com"]

[[app]]
name = "Cloudflare"
category = "Cloud"
owner = true
hosts = ["*.cloudflare.com"]
ranges = ["104.16.0.0/13"]

[[app]]
name = "GameServers"
category = "Game"
ranges = ["198.51.100.0/24"]

[[app]]
name = "YouTube"
category = "Video"
hosts = ["*.youtube.com"]

[[app]]
name = "IPSec"
category = "VPN"
aliases = ["IPsec"]

[[app]]
name = "Skype_TeamsCall"
category = "VoIP"
aliases = ["STUN/Teams"]
)";

std::shared_ptr<const catalog::Catalog> cat() {
  static auto c = [] {
    auto r = catalog::loadCatalog({{.name = "t.toml", .text = kCatalog}});
    EXPECT_TRUE(r.ok());
    return r.value();
  }();
  return c;
}

// The classifier's own host rules: it knows cloudflare-dns.com as Cloudflare.
class HostRules final : public Classifier {
 public:
  std::unique_ptr<FlowInspection> begin(const Flow&) override { return nullptr; }
  bool inspect(Flow&, const Packet&, Direction) override { return false; }
  void giveUp(Flow&) override {}
  bool matchHostname(std::string_view h, Classification& out) override {
    if (h != "cloudflare-dns.com") return false;
    out.application = "Cloudflare";
    return true;
  }
};

Classification ndpi(std::string master, std::string app, std::string category = "Web") {
  Classification c;
  c.l7_protocol = std::move(master);
  c.application = std::move(app);
  c.category = std::move(category);
  c.confidence = Confidence::Dpi;
  return c;
}

struct Case {
  const char* what;
  Classification in;
  const char* name;
  const char* server;
  uint16_t port;
  const char* want_master;
  const char* want_app;
  const char* want_owner;
  AppSource want_source;
};

TEST(AppRefine, Precedence) {
  HostRules rules;
  const Case cases[] = {
      {"a specific entry refines generic TLS", ndpi("TLS", "TLS"), "a.fortnite.com", nullptr, 443, "TLS",
       "Fortnite", "", AppSource::Catalog},
      {"... and QUIC, HTTP, DNS, Unknown", ndpi("DNS", "DNS"), "x.epicgames.com", nullptr, 53, "DNS", "EpicGames", "",
       AppSource::Catalog},
      {"Unknown", ndpi("Unknown", "Unknown"), "x.epicgames.com", nullptr, 0, "Unknown", "EpicGames", "",
       AppSource::Catalog},
      {"an app the catalog refines", ndpi("TLS", "EpicGames"), "a.fortnite.com", nullptr, 443, "TLS", "Fortnite", "",
       AppSource::Catalog},
      {"an nDPI app the catalog does not know stays", ndpi("TLS", "NetFlix"), "a.fortnite.com", nullptr, 443, "TLS",
       "NetFlix", "", AppSource::Ndpi},
      {"an app the catalog knows yields to its pattern", ndpi("TLS", "YouTube"), "a.fortnite.com", nullptr, 443,
       "TLS", "Fortnite", "", AppSource::Catalog},
      {"agreement keeps the nDPI source", ndpi("TLS", "Fortnite"), "a.fortnite.com", nullptr, 443, "TLS", "Fortnite",
       "", AppSource::Ndpi},
      {"an owner without its name is not the application", ndpi("TLS", "Cloudflare"), "", nullptr, 443, "TLS", "TLS",
       "Cloudflare", AppSource::Ndpi},
      {"an owner named by the catalog stays", ndpi("TLS", "Cloudflare"), "www.cloudflare.com", nullptr, 443, "TLS",
       "Cloudflare", "", AppSource::Ndpi},
      {"an owner named by the classifier's rules stays", ndpi("TLS", "Cloudflare"), "cloudflare-dns.com", nullptr,
       443, "TLS", "Cloudflare", "", AppSource::Ndpi},
      {"a demoted owner yields to the name", ndpi("TLS", "Cloudflare"), "a.fortnite.com", nullptr, 443, "TLS",
       "Fortnite", "Cloudflare", AppSource::Catalog},
      {"an owner's range is only the owner", ndpi("TLS", "TLS"), "", "104.17.2.3", 443, "TLS", "TLS", "Cloudflare",
       AppSource::Ndpi},
      {"an application range names the app", ndpi("Unknown", "Unknown"), "", "198.51.100.7", 7777, "Unknown",
       "GameServers", "", AppSource::Catalog},
      {"a name beats a range", ndpi("TLS", "TLS"), "www.youtube.com", "198.51.100.7", 443, "TLS", "YouTube", "",
       AppSource::Catalog},
      {"no address lookup without a server", ndpi("TLS", "TLS"), "", nullptr, 443, "TLS", "TLS", "", AppSource::Ndpi},
      {"an alias renames master and app", ndpi("IPsec", "IPsec", "VPN"), "", nullptr, 0, "IPSec", "IPSec", "",
       AppSource::Ndpi},
      {"a master-qualified alias", ndpi("STUN", "Teams"), "", nullptr, 3478, "STUN", "Skype_TeamsCall", "",
       AppSource::Ndpi},
      {"... only under its master", ndpi("TLS", "Teams"), "", nullptr, 443, "TLS", "Teams", "", AppSource::Ndpi},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Classification cls = c.in;
    std::optional<IpAddress> server;
    if (c.server) server = IpAddress::parse(c.server);
    refineWithCatalog(*cat(), cls, RefineInput{.name = c.name, .server = server ? &*server : nullptr,
                                               .server_port = c.port, .classifier = &rules});
    EXPECT_EQ(cls.l7_protocol, c.want_master);
    EXPECT_EQ(cls.application, c.want_app);
    EXPECT_EQ(cls.owner, c.want_owner);
    EXPECT_EQ(cls.app_source, c.want_source);
  }
}

TEST(AppRefine, PortGuessYieldsToCatalogAndCategoryFollows) {
  Classification cls = ndpi("TargusDataspeed", "TargusDataspeed", "Network");
  cls.app_source = AppSource::Port;
  cls.confidence = Confidence::Guessed;
  const IpAddress server = *IpAddress::parse("198.51.100.9");
  EXPECT_TRUE(refineWithCatalog(*cat(), cls, RefineInput{.name = "", .server = &server, .server_port = 5201,
                                                         .classifier = nullptr}));
  EXPECT_EQ(cls.application, "GameServers");
  EXPECT_EQ(cls.category, "Game");
  EXPECT_EQ(cls.app_source, AppSource::Catalog);
}

TEST(AppRefine, GenericAnswers) {
  EXPECT_TRUE(isGenericApplication(ndpi("TLS", "TLS")));
  EXPECT_TRUE(isGenericApplication(ndpi("HTTP", "HTTP_Proxy")));
  EXPECT_TRUE(isGenericApplication(ndpi("Unknown", "")));
  EXPECT_FALSE(isGenericApplication(ndpi("TLS", "NetFlix")));
}

}  // namespace
}  // namespace fg::core

// ---- the pipeline's wiring ---------------------------------------------------

#include "gateway/core/clock.h"
#include "gateway/core/pipeline.h"
#include "tests/gateway/packet_builder.h"

namespace fg::core {
namespace {

// Says TLS with the SNI "play.fortnite.com" at a flow's first packet, final
// at its second; nothing for UDP.
class SniClassifier final : public Classifier {
 public:
  std::unique_ptr<FlowInspection> begin(const Flow&) override { return std::make_unique<FlowInspection>(); }
  bool inspect(Flow& f, const Packet& p, Direction) override {
    if (p.proto != kProtoTcp) return false;
    f.cls.l7_protocol = f.cls.application = "TLS";
    f.cls.hostname = "play.fortnite.com";
    f.cls.confidence = Confidence::Dpi;
    return f.dpi_packets >= 2;
  }
  void giveUp(Flow& f) override {
    if (f.cls.application.empty()) f.cls.application = f.cls.l7_protocol = "Unknown";
  }
};

class Collect final : public FlowEventSink {
 public:
  void onClassified(const Flow& f) override { apps.push_back(f.cls.application + "/" + std::string(toString(f.cls.app_source))); }
  void onFlowEnd(const Flow&, EndReason) override {}
  std::vector<std::string> apps;
};

test::Bytes tcpTo(const char* dst, uint16_t sport, uint8_t flags) {
  return test::PacketBuilder().eth().ipv4({.src = "10.0.0.1", .dst = dst})
      .tcp({.sport = sport, .dport = 443, .flags = flags}).payload("x").build();
}

TEST(PipelineCatalog, RefinesWhenInspectionEndsAndFollowsReload) {
  catalog::CatalogHolder holder(cat());
  SniClassifier classifier;
  ManualClock clock;
  Collect sink;
  PipelineConfig config;
  config.catalog = &holder;
  Pipeline pipe(config, classifier, clock, sink);
  auto send = [&](const test::Bytes& b) { pipe.step(LinkType::Ethernet, b, clock.now()); };
  send(tcpTo("192.0.2.1", 40001, kTcpSyn));
  send(tcpTo("192.0.2.1", 40001, kTcpAck));
  ASSERT_EQ(sink.apps.size(), 1u);
  EXPECT_EQ(sink.apps[0], "Fortnite/catalog");
  EXPECT_EQ(pipe.counters().catalog_refined, 1u);

  // A reloaded catalog without Fortnite: the next flow keeps nDPI's answer.
  auto r = catalog::loadCatalog({{.name = "empty.toml", .text = ""}});
  ASSERT_TRUE(r.ok());
  holder.set(r.value());
  send(tcpTo("192.0.2.1", 40002, kTcpSyn));
  send(tcpTo("192.0.2.1", 40002, kTcpAck));
  ASSERT_EQ(sink.apps.size(), 2u);
  EXPECT_EQ(sink.apps[1], "TLS/ndpi");
}

TEST(PipelineCatalog, TheResolvedNameIsNamedByTheCatalogAtTheFirstPacket) {
  catalog::CatalogHolder holder(cat());
  SniClassifier classifier;
  ManualClock clock;
  Collect sink;
  Hints hints{HintsConfig{}};
  PipelineConfig config;
  config.catalog = &holder;
  config.hints = &hints;
  Pipeline pipe(config, classifier, clock, sink);
  // The client's DNS query and the answer: x.epicgames.com -> 198.18.0.9.
  pipe.step(LinkType::Ethernet,
            test::PacketBuilder().eth().ipv4({.src = "10.0.0.1", .dst = "10.0.0.53"}).udp({.sport = 5353, .dport = 53})
                .payload("q").build(), clock.now());
  pipe.step(LinkType::Ethernet,
            test::PacketBuilder().eth().ipv4({.src = "10.0.0.53", .dst = "10.0.0.1"}).udp({.sport = 53, .dport = 5353})
                .payload(test::dnsResponse("x.epicgames.com", {"198.18.0.9"})).build(), clock.now());
  const StepResult r = pipe.step(LinkType::Ethernet,
                                 test::PacketBuilder().eth().ipv4({.src = "10.0.0.1", .dst = "198.18.0.9"})
                                     .udp({.sport = 41000, .dport = 7777}).payload("move").build(), clock.now());
  ASSERT_NE(r.flow, nullptr);
  EXPECT_EQ(r.flow->cls.application, "EpicGames");
  EXPECT_EQ(r.flow->cls.category, "Game");
  EXPECT_EQ(r.flow->cls.app_source, AppSource::Dns);
}

}  // namespace
}  // namespace fg::core
