// core::Engine: packets in, verdicts and marks out, with a scripted
// classifier and real compiled policies. No kernel, no nDPI.
#include "gateway/core/engine.h"

#include <gtest/gtest.h>

#include <map>

#include "gateway/core/name_check.h"
#include "gateway/core/tcp_reset.h"
#include "tests/gateway/packet_builder.h"

namespace fg::core {
namespace {

using test::PacketBuilder;

// Classifier whose findings follow a script: after the flow's n-th inspected
// packet, the script's entry for n (if any) is applied to flow.cls; `final`
// says whether inspection is then complete.
class ScriptedClassifier final : public Classifier {
 public:
  struct Step {
    Classification cls;
    bool final = false;
  };
  std::map<uint16_t, Step> script;

  std::unique_ptr<FlowInspection> begin(const Flow&) override {
    return std::make_unique<FlowInspection>();
  }
  bool inspect(Flow& flow, const Packet&, Direction) override {
    auto it = script.find(flow.dpi_packets);
    if (it == script.end()) return false;
    flow.cls = it->second.cls;
    return it->second.final;
  }
  void giveUp(Flow& flow) override {
    ++give_ups;
    if (flow.cls.l7_protocol.empty()) flow.cls.l7_protocol = flow.cls.application = "Unknown";
  }
  // Host rules: hostname -> application (category "Video").
  std::map<std::string, std::string> hosts;
  bool matchHostname(std::string_view host, Classification& out) override {
    auto it = hosts.find(std::string(host));
    if (it == hosts.end()) return false;
    out.application = it->second;
    out.category = "Video";
    return true;
  }
  int give_ups = 0;
};

// What the engine returned, packet after packet.
class RecordingDecisions {
 public:
  void record(const ProcessResult& r) {
    if (r.decided)
      decisions.push_back({r.decided->flow->id, r.decided->decision.verdict,
                           std::string(r.decided->policy->ruleName(r.decided->decision.rule)),
                           r.decided->decision.set_count});
    ends += static_cast<int>(r.ended.size());
  }
  struct Entry {
    uint64_t flow;
    policy::Verdict verdict;
    std::string rule;
    uint8_t sets;
  };
  std::vector<Entry> decisions;
  int ends = 0;
};

// The start of a TLS ClientHello record: a flow opened with it may still
// show a TLS server hello (core::ClientOpening).
constexpr std::string_view kClientHello{"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10};

const policy::NameCatalog& catalog() {
  static const policy::NameCatalog c{.protocols = {"Unknown", "TLS", "HTTP", "NetFlix", "BitTorrent"},
                                     .categories = {"Web", "Video", "Download"}};
  return c;
}

class EngineTest : public ::testing::Test {
 protected:
  void load(const std::string& toml) {
    auto r = holder_.reloadSources(std::vector<policy::PolicySource>{{"test.toml", toml}});
    ASSERT_TRUE(r.ok()) << (r.ok() ? "" : policy::formatError(r.errors().front()));
  }
  Engine& engine(uint16_t budget = 32, bool hints = false, bool keep_first_route = true) {
    EngineConfig c;
    c.keep_first_route = keep_first_route;
    c.pipeline.packet_budget = budget;
    if (hints) c.pipeline.hints = &hints_;
    engine_ = std::make_unique<Engine>(c, classifier_, clock_, holder_);
    return *engine_;
  }
  // Client 10.1.0.2:40000 <-> server 10.9.9.9:443.
  static test::Bytes fromClient(uint8_t flags, std::string_view payload = "") {
    return PacketBuilder()
        .ipv4({.src = "10.1.0.2", .dst = "10.9.9.9"})
        .tcp({.sport = 40000, .dport = 443, .flags = flags})
        .payload(payload)
        .build();
  }
  // Another connection of the same client to the same server.
  static test::Bytes fromClientPort(uint16_t sport, uint8_t flags, std::string_view payload = "") {
    return PacketBuilder()
        .ipv4({.src = "10.1.0.2", .dst = "10.9.9.9"})
        .tcp({.sport = sport, .dport = 443, .flags = flags})
        .payload(payload)
        .build();
  }
  static test::Bytes fromServer(uint8_t flags, std::string_view payload = "") {
    return PacketBuilder()
        .ipv4({.src = "10.9.9.9", .dst = "10.1.0.2"})
        .tcp({.sport = 443, .dport = 40000, .flags = flags})
        .payload(payload)
        .build();
  }
  PacketVerdict send(const test::Bytes& pkt, uint32_t mark = 0) {
    clock_.advanceTo(clock_.now() + 1000);
    const ProcessResult r = engine_->process(pkt, clock_.now(), PacketContext{.mark = mark, .in_interface = "lan0"});
    sink_.record(r);
    return r.verdict;
  }
  static Classification tls(std::string host, uint16_t cipher = 0, std::string app = "TLS") {
    Classification c;
    c.l7_protocol = "TLS";
    c.application = std::move(app);
    c.category = "Web";
    c.hostname = std::move(host);
    c.tls_version = cipher ? 0x0303 : 0;
    c.cipher = cipher;
    c.confidence = Confidence::Dpi;
    return c;
  }

  // `c` with a certificate covering its hostname (TLS <= 1.2): the name
  // is verified without a DNS answer (core/name_check.h).
  static Classification certified(Classification c) {
    c.cert_names = c.hostname;
    return c;
  }

  // The client's query to its resolver 10.53.0.1:53, and the answer for
  // `name` (only answers to a query the client sent are learned).
  static test::Bytes dnsQuery(uint16_t sport = 33333) {
    return PacketBuilder()
        .ipv4({.src = "10.1.0.2", .dst = "10.53.0.1"})
        .udp({.sport = sport, .dport = 53})
        .payload("query")
        .build();
  }
  static test::Bytes dnsAnswer(std::string_view name, const std::vector<std::string>& addrs,
                               uint16_t dport = 33333) {
    return PacketBuilder()
        .ipv4({.src = "10.53.0.1", .dst = "10.1.0.2"})
        .udp({.sport = 53, .dport = dport})
        .payload(test::dnsResponse(name, addrs))
        .build();
  }
  // The client resolves `name` through the gateway; returns the answer's verdict.
  PacketVerdict resolve(std::string_view name, const std::vector<std::string>& addrs) {
    static uint16_t port = 33333;
    ++port;
    send(dnsQuery(port));
    return send(dnsAnswer(name, addrs, port));
  }

  // The tracked flow `pkt` belongs to, or nullptr.
  const Flow* flowOf(const test::Bytes& pkt) const {
    const FlowKey key = FlowKey::fromPacket(decode(LinkType::Raw, pkt, 0).packet);
    const Flow* found = nullptr;
    engine_->pipeline().table().forEach([&](const Flow& f) {
      if (f.key == key) found = &f;
    });
    return found;
  }

  Hints hints_{HintsConfig{}};
  policy::PolicyHolder holder_{policy::LoadOptions{.catalog = &catalog()}};
  ScriptedClassifier classifier_;
  ManualClock clock_;
  RecordingDecisions sink_;
  std::unique_ptr<Engine> engine_;
};

constexpr uint32_t kDecided = 0x80000000u, kDrop = 0x40000000u, kReject = 0x20000000u;

TEST_F(EngineTest, WeakCipherIsRejectedAtTheServerHelloAndTheClientIsReset) {
  load(R"(
[[rule]]
name = "no-weak"
match = { cipher_strength = ["insecure", "weak"] }
action = "reject"
)");
  classifier_.script[2] = {tls("bank.example"), false};                  // ClientHello
  classifier_.script[3] = {tls("bank.example", 0x002F), true};           // ServerHello, AES128-SHA
  Engine& e = engine();
  PacketVerdict syn = send(fromClient(kTcpSyn));
  EXPECT_FALSE(syn.mark.has_value()) << "undecided: mark untouched";
  PacketVerdict hello = send(fromClient(kTcpAck | kTcpPsh, kClientHello));
  EXPECT_FALSE(hello.mark.has_value()) << "the cipher is still pending";
  PacketVerdict server = send(fromServer(kTcpAck | kTcpPsh, "server hello"));
  ASSERT_TRUE(server.mark.has_value());
  EXPECT_EQ(*server.mark, kDecided | kReject);
  EXPECT_TRUE(server.accept) << "the kernel's reject rule does the blocking";
  EXPECT_TRUE(server.rewrite_as_reset) << "the server's deciding packet becomes a reset to the client";
  PacketVerdict later = send(fromServer(kTcpAck | kTcpPsh, "certificate"));
  EXPECT_EQ(later.mark, std::optional<uint32_t>(kDecided | kReject));
  EXPECT_FALSE(later.rewrite_as_reset) << "only the deciding packet";
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].rule, "no-weak");
  EXPECT_EQ(e.counters().decided_reject, 1u);
  EXPECT_EQ(e.counters().resets_to_client, 1u);
  EXPECT_EQ(e.counters().after_decision, 1u);
}

// What operators run: a weak-cipher block next to rules by application.
constexpr const char* kWeakTlsAndAppsPolicy = R"(
[[rule]]
name = "no-weak"
match = { cipher_strength = ["insecure", "weak"] }
action = "reject"
[[rule]]
name = "no-torrents"
match = { application = "BitTorrent" }
action = "drop"
)";

TEST_F(EngineTest, AFlowThatOpenedWithoutAHandshakeIsDecidedOnceItsClassificationSettles) {
  load(kWeakTlsAndAppsPolicy);
  Classification http;
  http.l7_protocol = http.application = "HTTP";
  http.category = "Web";
  http.hostname = "www.example.org";
  http.confidence = Confidence::Dpi;
  http.settled = true;  // DPI read the Host; the response is still to come
  classifier_.script[2] = {http, /*final=*/false};
  engine();
  EXPECT_FALSE(send(fromClient(kTcpSyn)).mark.has_value());
  // An HTTP request is no TLS handshake: no cipher will ever be known, and
  // nothing a rule reads changes with the response.
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, "GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n")).mark,
            std::optional<uint32_t>(kDecided));
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].rule, "") << "the default decided";
}

TEST_F(EngineTest, AnUnsettledClassificationKeepsTheFlowOpen) {
  load(kWeakTlsAndAppsPolicy);
  Classification http;
  http.l7_protocol = http.application = "HTTP";
  http.confidence = Confidence::Dpi;  // no Host yet: not settled
  classifier_.script[2] = {http, false};
  engine();
  send(fromClient(kTcpSyn));
  EXPECT_FALSE(send(fromClient(kTcpAck | kTcpPsh, "GET / HTTP/1.1\r\n")).mark.has_value())
      << "the application may still change: the BitTorrent rule could match";
  EXPECT_TRUE(sink_.decisions.empty());
}

TEST_F(EngineTest, ATlsFlowWithASettledSniWaitsOnlyForTheServerHello) {
  load(kWeakTlsAndAppsPolicy);
  Classification hello = tls("bank.example");
  hello.settled = true;
  Classification server = tls("bank.example", 0xC02F);  // ECDHE-RSA-AES128-GCM-SHA256
  server.settled = true;
  classifier_.script[2] = {hello, false};
  classifier_.script[3] = {server, false};  // the certificate is still to come
  engine(32, /*hints=*/true);
  resolve("bank.example", {"10.9.9.9"});  // the client resolved the SNI: verified
  const size_t dns_decisions = sink_.decisions.size();
  send(fromClient(kTcpSyn));
  EXPECT_FALSE(send(fromClient(kTcpAck | kTcpPsh, kClientHello)).mark.has_value())
      << "a TLS handshake: the cipher is pending";
  EXPECT_EQ(send(fromServer(kTcpAck | kTcpPsh, "server hello")).mark, std::optional<uint32_t>(kDecided))
      << "decided at the server hello, before the certificate";
  ASSERT_EQ(sink_.decisions.size(), dns_decisions + 1);
}

TEST_F(EngineTest, AnUnverifiedSniWaitsForTheCertificateThatCouldVerifyIt) {
  load(kWeakTlsAndAppsPolicy);
  Classification hello = tls("bank.example");
  hello.settled = true;
  Classification server = tls("bank.example", 0xC02F);
  server.settled = true;
  classifier_.script[2] = {hello, false};
  classifier_.script[3] = {server, false};
  classifier_.script[4] = {certified(server), false};
  engine();
  send(fromClient(kTcpSyn));
  send(fromClient(kTcpAck | kTcpPsh, kClientHello));
  EXPECT_FALSE(send(fromServer(kTcpAck | kTcpPsh, "server hello")).mark.has_value())
      << "TLS 1.2 shows the certificate next: the name may yet be verified";
  EXPECT_EQ(send(fromServer(kTcpAck | kTcpPsh, "certificate")).mark, std::optional<uint32_t>(kDecided));
}

TEST_F(EngineTest, AProtocolThatUpgradesToTlsKeepsTheCipherPending) {
  load(kWeakTlsAndAppsPolicy);
  Classification smtp;
  smtp.l7_protocol = smtp.application = "SMTP";
  smtp.hostname = "mail.example.org";
  smtp.confidence = Confidence::Dpi;
  smtp.settled = true;
  classifier_.script[2] = {smtp, false};
  engine();
  send(fromClient(kTcpSyn));
  EXPECT_FALSE(send(fromClient(kTcpAck | kTcpPsh, "EHLO client.example.org\r\n")).mark.has_value())
      << "STARTTLS may still bring a weak cipher";
}

TEST_F(EngineTest, RejectDecidedOnAClientPacketLeavesTheResetToTheKernel) {
  load(R"(
[[rule]]
name = "no-bank"
match = { hostname = "bank.example" }
action = "reject"
)");
  classifier_.script[2] = {tls("bank.example"), true};
  engine();
  send(fromClient(kTcpSyn));
  PacketVerdict v = send(fromClient(kTcpAck | kTcpPsh, kClientHello));
  EXPECT_EQ(v.mark, std::optional<uint32_t>(kDecided | kReject));
  EXPECT_FALSE(v.rewrite_as_reset) << "the kernel's reject answers the client itself";
}

TEST_F(EngineTest, AddressRuleDecidesAtTheFirstPacket) {
  load(R"(
[[rule]]
name = "blackhole"
match = { dst = "10.9.9.0/24", proto = "tcp" }
action = "drop"
)");
  Engine& e = engine();
  PacketVerdict syn = send(fromClient(kTcpSyn));
  EXPECT_EQ(syn.mark, std::optional<uint32_t>(kDecided | kDrop));
  EXPECT_EQ(e.counters().decided_early, 1u) << "decided before classification was final";
  EXPECT_EQ(e.pipeline().table().size(), 1u);
}

TEST_F(EngineTest, ClassMarkAndForeignMarkBitsArePreserved) {
  load(R"(
[class]
video = 5

[[rule]]
name = "netflix"
match = { application = "NetFlix" }
class = "video"
)");
  classifier_.script[2] = {certified(tls("www.netflix.com", 0xC02F, "NetFlix")), true};
  engine();
  send(fromClient(kTcpSyn), 0x00010000);
  PacketVerdict v = send(fromClient(kTcpAck | kTcpPsh, kClientHello), 0x00ab0000 | 0x7);
  // flowgate's bits: decided | class 5; bits outside flowgate's layout kept;
  // flowgate's own value bits (the stale 0x7) replaced.
  ASSERT_TRUE(v.mark.has_value());
  EXPECT_EQ(*v.mark, 0x00ab0000u | kDecided | 5u);
}

TEST_F(EngineTest, BudgetExhaustionDecidesWithTheDefault) {
  load(R"(
[policy]
default_action = "drop"

[[rule]]
name = "web"
match = { l7_protocol = "HTTP" }
action = "accept"
)");
  Engine& e = engine(/*budget=*/4);
  for (int i = 0; i < 3; ++i) {
    PacketVerdict v = send(fromClient(kTcpAck | kTcpPsh, "opaque"));
    EXPECT_FALSE(v.mark.has_value()) << "packet " << i;
  }
  PacketVerdict last = send(fromClient(kTcpAck | kTcpPsh, "opaque"));
  EXPECT_EQ(last.mark, std::optional<uint32_t>(kDecided | kDrop)) << "default action at the budget";
  EXPECT_EQ(classifier_.give_ups, 1);
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].rule, "") << "decided by the default";
  EXPECT_EQ(e.counters().decided_drop, 1u);
}

TEST_F(EngineTest, ANewConnectionOnADecidedTupleIsInspectedAnew) {
  // Decided flows' later packets (FINs too) bypass userspace, so the engine
  // never sees them end; a client SYN that reaches it on the same tuple is
  // a new conntrack and must get its own decision, not inherit the old one.
  load(R"(
[[rule]]
name = "no-bank"
match = { hostname = "bank.example" }
action = "reject"
)");
  classifier_.script[2] = {tls("www.example.org"), true};
  Engine& e = engine();
  send(fromClient(kTcpSyn));
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, "hello")).mark, std::optional<uint32_t>(kDecided));
  // Same ports, new connection, now to the blocked name.
  classifier_.script[2] = {tls("bank.example"), true};
  PacketVerdict syn = send(fromClient(kTcpSyn));
  EXPECT_FALSE(syn.mark.has_value()) << "the new connection is undecided, not the old verdict";
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, "hello")).mark, std::optional<uint32_t>(kDecided | kReject));
  ASSERT_EQ(sink_.decisions.size(), 2u);
  EXPECT_NE(sink_.decisions[0].flow, sink_.decisions[1].flow);
  EXPECT_EQ(sink_.decisions[1].rule, "no-bank");
  EXPECT_EQ(sink_.ends, 1) << "the old flow ended (reused)";
  EXPECT_EQ(e.pipeline().table().size(), 1u);
}

TEST_F(EngineTest, IcmpErrorsAreNeverMarked) {
  // A forged "port unreachable" quoting a connection must not decide it:
  // conntrack files the error under that connection, so a mark on it would
  // reach the connection's ct mark.
  load("[policy]\ndefault_action = \"accept\"\n");
  Engine& e = engine();
  const test::Bytes unreachable =
      PacketBuilder().ipv4({.src = "10.1.0.2", .dst = "10.9.9.9"}).icmp({.type = 3, .code = 3}).payload("quoted").build();
  PacketVerdict v = send(unreachable);
  EXPECT_TRUE(v.accept);
  EXPECT_FALSE(v.mark.has_value());
  EXPECT_EQ(e.counters().icmp_errors, 1u);
  EXPECT_EQ(e.counters().decided, 0u);
  // An echo request is an ordinary flow and is decided as usual.
  const test::Bytes echo =
      PacketBuilder().ipv4({.src = "10.1.0.2", .dst = "10.9.9.9"}).icmp({.type = 8}).payload("ping").build();
  EXPECT_EQ(send(echo).mark, std::optional<uint32_t>(kDecided));
}

TEST_F(EngineTest, UndecodablePacketsAreAcceptedUnmarked) {
  load("[[rule]]\nname = \"x\"\nmatch = { proto = \"udp\" }\naction = \"drop\"\n");
  Engine& e = engine();
  const test::Bytes garbage = {0x45, 0x00, 0x00};
  PacketVerdict v = send(garbage);
  EXPECT_TRUE(v.accept);
  EXPECT_FALSE(v.mark.has_value());
  EXPECT_EQ(e.counters().undecodable, 1u);
}

TEST_F(EngineTest, UndecodablePacketsGetTheConfiguredFailureAction) {
  load("[[rule]]\nname = \"x\"\nmatch = { proto = \"udp\" }\naction = \"drop\"\n");
  EngineConfig c;
  c.undecodable = FailureAction::Drop;  // [failure] undecodable = "drop"
  engine_ = std::make_unique<Engine>(c, classifier_, clock_, holder_);
  PacketVerdict v = send(test::Bytes{0x45, 0x00, 0x00});
  EXPECT_FALSE(v.accept);
  EXPECT_FALSE(v.mark.has_value()) << "no flow: nothing for conntrack to remember";
  EXPECT_EQ(engine_->counters().undecodable, 1u);
  // A decodable packet is the policy's as ever.
  EXPECT_TRUE(send(fromClient(kTcpSyn)).accept);
}

TEST_F(EngineTest, SetAdditionsReachTheSink) {
  load(R"(
[set.seen]
family = "ipv4"
address = "dst"
timeout = 60

[[rule]]
name = "collect"
match = { application = "NetFlix" }
add_to_set = "seen"
)");
  classifier_.script[1] = {certified(tls("www.netflix.com", 0xC02F, "NetFlix")), true};
  engine();
  send(fromClient(kTcpAck | kTcpPsh, kClientHello));
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].sets, 1u);
}

// --- first-packet decisions ------------------------------------------------

constexpr const char* kZeroRatePolicy = R"(
[policy]
mark_mask = 0x0000ff00
mark_shift = 8

[class]
video = 0x20

[route.zero]
table = 100
fwmark = 1
fwmark_mask = 0x0f

[[rule]]
name = "blocked"
match = { hostname = "*.blocked.example" }
action = "reject"

[[rule]]
name = "zero-rate"
match = { hostname = "www.netflix.com" }
route = "zero"
class = "video"
)";
constexpr uint32_t kZeroRoute = 0x100, kVideo = 0x2000;
constexpr const char* kNoVideoPolicy = R"(
[[rule]]
name = "no-video"
match = { application = "NetFlix" }
action = "reject"
)";

TEST_F(EngineTest, ResolvedHostnameRoutesTheSynProvisionallyAndDpiConfirms) {
  load(kZeroRatePolicy);
  classifier_.hosts["www.netflix.com"] = "NetFlix";
  classifier_.script[3] = {tls("www.netflix.com", 0xC02F, "NetFlix"), true};  // SYN, SYN-ACK, hello
  Engine& e = engine(32, /*hints=*/true);
  EXPECT_FALSE(resolve("www.netflix.com", {"10.9.9.9"}).mark.has_value());
  PacketVerdict syn = send(fromClient(kTcpSyn));
  ASSERT_TRUE(syn.mark.has_value()) << "the SYN already carries the route";
  EXPECT_EQ(*syn.mark, kZeroRoute | kVideo) << "route and class, not decided: DPI still confirms";
  EXPECT_EQ(e.counters().first_packet_marked, 1u);
  EXPECT_TRUE(sink_.decisions.empty());
  const Flow* f = flowOf(fromClient(kTcpSyn));
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->early);
  EXPECT_EQ(f->early->source, Confidence::Dns);
  EXPECT_EQ(f->early->application, "NetFlix");
  EXPECT_EQ(f->cls.confidence, Confidence::Dns) << "the early answer stands until DPI has its own";
  EXPECT_EQ(send(fromServer(kTcpSyn | kTcpAck)).mark, std::optional<uint32_t>(kZeroRoute | kVideo));
  PacketVerdict hello = send(fromClient(kTcpAck | kTcpPsh, kClientHello));
  EXPECT_EQ(hello.mark, std::optional<uint32_t>(kDecided | kZeroRoute | kVideo)) << "DPI agreed: decided";
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].rule, "zero-rate");
  EXPECT_TRUE(f->decision.first_packet);
  EXPECT_FALSE(f->early->detection_updated);
  EXPECT_EQ(f->cls.confidence, Confidence::Dpi);
}

TEST_F(EngineTest, FlowsRoutedWithoutANextHopOfTheirFamilyAreCounted) {
  // The route has an IPv4 next hop only: an IPv6 flow the rule routes finds
  // no route in table 100 and leaves by the main table. Counted, not silent.
  load(R"(
[policy]
mark_mask = 0x0000ff00
mark_shift = 8
[route.zero]
table = 100
via = "10.0.3.1"
fwmark = 1
[[rule]]
name = "zero-rate"
match = { application = "NetFlix" }
route = "zero"
require_verified_name = false   # this test is about address families, not names
)");
  classifier_.script[1] = {tls("www.netflix.com", 0xC02F, "NetFlix"), true};
  engine(32, /*hints=*/false, /*keep_first_route=*/false);  // routed uplinks: DPI may route mid-flow
  const auto v6 = PacketBuilder()
                      .ipv6({.src = "fd00:1::2", .dst = "fd00:9::9"})
                      .tcp({.sport = 40000, .dport = 443, .flags = kTcpAck | kTcpPsh})
                      .payload(kClientHello)
                      .build();
  EXPECT_EQ(send(v6).mark, std::optional<uint32_t>(kDecided | 0x100)) << "the mark is the route's all the same";
  send(fromClient(kTcpAck | kTcpPsh, kClientHello));
  ASSERT_EQ(sink_.decisions.size(), 2u);
  const auto p = holder_.current();
  const auto c = p->routeCounters(0);
  EXPECT_EQ(c.flows_v6, 1u);
  EXPECT_EQ(c.flows_v4, 1u);
  EXPECT_EQ(c.uncovered, 1u) << "the IPv6 flow only";
}

TEST_F(EngineTest, BlockedHostnameIsRejectedAtTheSyn) {
  load(kZeroRatePolicy);
  Engine& e = engine(32, true);
  resolve("ads.blocked.example", {"10.9.9.9"});
  PacketVerdict syn = send(fromClient(kTcpSyn));
  EXPECT_EQ(syn.mark, std::optional<uint32_t>(kDecided | kReject));
  EXPECT_FALSE(syn.rewrite_as_reset) << "the kernel rejects the client's own SYN";
  EXPECT_EQ(e.counters().first_packet_blocked, 1u);
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].rule, "blocked");
}

TEST_F(EngineTest, WithoutHintsAFlowKeepsTheUplinkOfItsSyn) {
  load(kZeroRatePolicy);
  classifier_.script[2] = {certified(tls("www.netflix.com", 0xC02F, "NetFlix")), true};
  Engine& e = engine(32, /*hints=*/false);
  resolve("www.netflix.com", {"10.9.9.9"});
  EXPECT_FALSE(send(fromClient(kTcpSyn)).mark.has_value()) << "nothing known at the SYN";
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, kClientHello)).mark, std::optional<uint32_t>(kDecided | kVideo))
      << "class applies; the route does not: the SYN (and its NAT) went out the default uplink";
  EXPECT_EQ(e.counters().early_answers, 0u);
}

TEST_F(EngineTest, WithoutKeepFirstRouteADecidedFlowSwitchesUplink) {
  load(kZeroRatePolicy);
  classifier_.script[2] = {certified(tls("www.netflix.com", 0xC02F, "NetFlix")), true};
  engine(32, /*hints=*/false, /*keep_first_route=*/false);
  EXPECT_FALSE(send(fromClient(kTcpSyn)).mark.has_value());
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, kClientHello)).mark,
            std::optional<uint32_t>(kDecided | kZeroRoute | kVideo));
}

TEST_F(EngineTest, DpiContradictingTheEarlyAnswerKeepsTheRouteButNotTheClass) {
  load(kZeroRatePolicy);
  // The name resolved to a shared CDN address; the TLS SNI names another site.
  classifier_.hosts["www.netflix.com"] = "NetFlix";
  classifier_.script[2] = {tls("www.other.example"), true};
  Engine& e = engine(32, true);
  resolve("www.netflix.com", {"10.9.9.9"});
  EXPECT_EQ(send(fromClient(kTcpSyn)).mark, std::optional<uint32_t>(kZeroRoute | kVideo));
  PacketVerdict hello = send(fromClient(kTcpAck | kTcpPsh, kClientHello));
  EXPECT_EQ(hello.mark, std::optional<uint32_t>(kDecided | kZeroRoute))
      << "re-evaluated: no class any more, but the NATed flow cannot change uplink";
  const Flow* f = flowOf(fromClient(kTcpSyn));
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->early);
  EXPECT_TRUE(f->early->detection_updated);
  EXPECT_EQ(e.pipeline().counters().detection_updated, 1u);
  ASSERT_EQ(sink_.decisions.size(), 2u) << "the DNS lookup, then the connection";
  EXPECT_EQ(sink_.decisions.back().rule, "") << "the default decided";
}

TEST_F(EngineTest, DpiFindingABlockedNameBlocksAProvisionallyRoutedFlow) {
  load(kZeroRatePolicy);
  classifier_.script[2] = {tls("x.blocked.example"), true};
  engine(32, true);
  resolve("www.netflix.com", {"10.9.9.9"});
  send(fromClient(kTcpSyn));
  PacketVerdict hello = send(fromClient(kTcpAck | kTcpPsh, kClientHello));
  EXPECT_EQ(hello.mark, std::optional<uint32_t>(kDecided | kReject | kZeroRoute));
}

TEST_F(EngineTest, RulesWaitingForTlsKeepTheFirstPacketOpen) {
  load(R"(
[[rule]]
name = "weak"
match = { hostname = "bank.example", cipher_strength = "weak" }
action = "reject"
)");
  Engine& e = engine(32, true);
  resolve("bank.example", {"10.9.9.9"});
  EXPECT_FALSE(send(fromClient(kTcpSyn)).mark.has_value()) << "the cipher is still to come";
  EXPECT_EQ(e.counters().early_answers, 1u);
  EXPECT_EQ(e.counters().first_packet_marked + e.counters().first_packet_blocked, 0u);
}

TEST_F(EngineTest, ATlsRuleBeforeTheRouteRuleStillLetsTheSynBeRouted) {
  // The route must be chosen at the SYN (NAT); a TLS rule that could still
  // block the flow keeps the verdict open, not the route.
  load(std::string(R"(
[[rule]]
name = "weak"
match = { cipher_strength = "weak" }
action = "reject"
)") + kZeroRatePolicy);
  classifier_.script[2] = {tls("www.netflix.com"), false};
  classifier_.script[3] = {tls("www.netflix.com", 0x002F), true};  // AES128-SHA: weak
  Engine& e = engine(32, true);
  resolve("www.netflix.com", {"10.9.9.9"});
  EXPECT_EQ(send(fromClient(kTcpSyn)).mark, std::optional<uint32_t>(kZeroRoute | kVideo));
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, kClientHello)).mark, std::optional<uint32_t>(kZeroRoute | kVideo));
  PacketVerdict server = send(fromServer(kTcpAck | kTcpPsh, "server hello"));
  EXPECT_EQ(server.mark, std::optional<uint32_t>(kDecided | kReject | kZeroRoute));
  EXPECT_TRUE(server.rewrite_as_reset);
  EXPECT_EQ(e.counters().first_packet_marked, 1u);
}

TEST_F(EngineTest, LearnedServerAnswersTheNextFlow) {
  load(kZeroRatePolicy + std::string(R"(
[[rule]]
name = "by-app"
match = { application = "NetFlix" }
route = "zero"
)"));
  classifier_.script[2] = {certified(tls("nflx.example", 0xC02F, "NetFlix")), true};
  engine(32, true);
  // First flow: nothing known at its SYN, so it stays on the default uplink;
  // decided by DPI, and its server is learned.
  EXPECT_FALSE(send(fromClient(kTcpSyn)).mark.has_value());
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, "hello")).mark, std::optional<uint32_t>(kDecided));
  // A new connection on another client port: answered from the cache.
  const test::Bytes syn2 = fromClientPort(40001, kTcpSyn);
  EXPECT_EQ(send(syn2).mark, std::optional<uint32_t>(kZeroRoute));
  EXPECT_EQ(hints_.counters().cache_hits, 1u);
  const Flow* f = flowOf(syn2);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->early);
  EXPECT_EQ(f->early->source, Confidence::Cache);
  EXPECT_EQ(f->cls.confidence, Confidence::Cache);
}

TEST_F(EngineTest, ALearnedServerNeverBlocksAtTheFirstPacket) {
  load(kNoVideoPolicy);
  classifier_.script[2] = {certified(tls("nflx.example", 0xC02F, "NetFlix")), true};
  Engine& e = engine(32, true);
  send(fromClient(kTcpSyn));
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, "hello")).mark, std::optional<uint32_t>(kDecided | kReject));
  const test::Bytes syn2 = fromClientPort(40001, kTcpSyn);
  EXPECT_FALSE(send(syn2).mark.has_value()) << "the address may serve other names: DPI decides";
  EXPECT_EQ(e.counters().early_answers, 1u);
  EXPECT_EQ(e.counters().first_packet_blocked, 0u);
}

TEST_F(EngineTest, BareProtocolsAreNotLearned) {
  load(kZeroRatePolicy);
  classifier_.script[2] = {tls("ads.blocked.example"), true};  // application "TLS"
  Engine& e = engine(32, true);
  send(fromClient(kTcpSyn));
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, "hello")).mark, std::optional<uint32_t>(kDecided | kReject));
  const test::Bytes syn2 = fromClientPort(40001, kTcpSyn);
  EXPECT_FALSE(send(syn2).mark.has_value());
  EXPECT_EQ(e.counters().early_answers, 0u) << "another name on the same address is not blocked by association";
}

TEST_F(EngineTest, ALearnedAnswerNeverBecomesTheFinalClassification) {
  load(kNoVideoPolicy);
  classifier_.script[2] = {certified(tls("nflx.example", 0xC02F, "NetFlix")), true};
  Engine& e = engine(/*budget=*/3, true);
  send(fromClient(kTcpSyn));
  send(fromClient(kTcpAck | kTcpPsh, "hello"));  // learned: NetFlix
  classifier_.script.clear();                     // the next flow says nothing DPI knows
  const auto pkt = [](uint8_t flags, std::string_view payload = "") { return fromClientPort(40001, flags, payload); };
  send(pkt(kTcpSyn));
  send(pkt(kTcpAck | kTcpPsh, "opaque"));
  PacketVerdict last = send(pkt(kTcpAck | kTcpPsh, "opaque"));  // budget reached: DPI's guess
  EXPECT_EQ(last.mark, std::optional<uint32_t>(kDecided)) << "another flow's answer must not block this one";
  const Flow* f = flowOf(pkt(kTcpSyn));
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->early);
  EXPECT_EQ(f->early->source, Confidence::Cache);
  EXPECT_NE(f->cls.confidence, Confidence::Cache);
  EXPECT_EQ(e.counters().decided_reject, 1u) << "only the first flow";
}

TEST_F(EngineTest, AFlowMetMidConnectionKeepsItsRoute) {
  // After a restart (or an eviction) flowgate meets connections mid-way:
  // their earlier packets left by the route their ct mark says.
  load(kZeroRatePolicy);
  classifier_.script[1] = {certified(tls("www.netflix.com", 0xC02F, "NetFlix")), true};
  engine();
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, "data")).mark, std::optional<uint32_t>(kDecided | kVideo))
      << "no route mid-connection: it went out the default uplink so far";
  // Another connection met mid-way that already carries the route.
  const test::Bytes other = fromClientPort(40002, kTcpAck | kTcpPsh, "data");
  classifier_.script[1] = {tls("www.example.org"), true};
  EXPECT_EQ(send(other, kZeroRoute).mark, std::optional<uint32_t>(kDecided | kZeroRoute));
}

TEST_F(EngineTest, KernelBoundRouteIsPinned) {
  load(kZeroRatePolicy);
  classifier_.script[2] = {tls("www.example.org"), true};
  engine(32, true);
  // A kernel-bound set marked the SYN with the route before queueing it.
  PacketVerdict syn = send(fromClient(kTcpSyn), kZeroRoute);
  EXPECT_EQ(syn.mark.value_or(kZeroRoute), kZeroRoute) << "the kernel's route stands";
  PacketVerdict hello = send(fromClient(kTcpAck | kTcpPsh, "hello"), kZeroRoute);
  EXPECT_EQ(hello.mark, std::optional<uint32_t>(kDecided | kZeroRoute))
      << "decided by the default, the route the SYN took is kept";
  EXPECT_EQ(engine_->counters().kernel_bound, 1u);
}

TEST_F(EngineTest, KernelDecidedPacketsAreOnlyObserved) {
  load(kZeroRatePolicy);
  Engine& e = engine(32, true);
  // An answer from port 53 nobody asked for (no query flow): ignored, and
  // a packet the kernel queued with the decided bit starts no flow.
  PacketVerdict v = send(dnsAnswer("www.netflix.com", {"10.9.9.9"}, 40000), kDecided | 0x42);
  EXPECT_TRUE(v.accept);
  EXPECT_FALSE(v.mark.has_value());
  EXPECT_EQ(e.pipeline().table().size(), 0u);
  EXPECT_EQ(hints_.counters().dns_responses, 0u);
  // The answer to the client's query, after the kernel decided the query's
  // connection (queued by the observation rule with its ct mark): learned,
  // the mark unchanged.
  send(dnsQuery(40001));
  const size_t flows = e.pipeline().table().size();
  v = send(dnsAnswer("www.netflix.com", {"10.9.9.9"}, 40001), kDecided | 0x42);
  EXPECT_FALSE(v.mark.has_value());
  EXPECT_EQ(e.pipeline().table().size(), flows);
  EXPECT_EQ(e.counters().observed, 2u);
  EXPECT_EQ(hints_.counters().dns_addresses, 1u);
  EXPECT_EQ(send(fromClient(kTcpSyn)).mark, std::optional<uint32_t>(kZeroRoute | kVideo));
}

TEST_F(EngineTest, UnaskedAnswersFromPort53AreNotLearned) {
  load(kZeroRatePolicy);
  engine(32, true);
  // A client (or an outside host) sending "answers" from its own port 53:
  // the flow it opens is from port 53, not to it.
  send(dnsAnswer("ads.blocked.example", {"10.9.9.9"}));
  EXPECT_EQ(hints_.counters().dns_responses, 0u);
  EXPECT_FALSE(send(fromClient(kTcpSyn)).mark.has_value()) << "no poisoned block at the SYN";
}

TEST_F(EngineTest, DnsAnswersOnOtherPortsAreLearnedOnceDpiSaysDns) {
  load(kZeroRatePolicy);
  Classification dns;
  dns.l7_protocol = dns.application = "DNS";
  dns.confidence = Confidence::Dpi;
  classifier_.script[1] = {dns, false};
  engine(32, true);
  const auto query = PacketBuilder()
                         .ipv4({.src = "10.1.0.2", .dst = "10.53.0.1"})
                         .udp({.sport = 33333, .dport = 5300})
                         .payload("query")
                         .build();
  const auto answer = PacketBuilder()
                          .ipv4({.src = "10.53.0.1", .dst = "10.1.0.2"})
                          .udp({.sport = 5300, .dport = 33333})
                          .payload(test::dnsResponse("www.netflix.com", {"10.9.9.9"}))
                          .build();
  send(query);
  send(answer);
  EXPECT_EQ(hints_.counters().dns_addresses, 1u);
}

// --- verified names (docs/policy.md) -------------------------------------------

constexpr const char* kZeroRateSetPolicy = R"(
[policy]
mark_mask = 0x0000ff00
mark_shift = 8

[route.zero]
table = 100
fwmark = 1
fwmark_mask = 0x0f

[set.zero_rated]
family = "ipv4"
timeout = 3600

[[rule]]
name = "zero-rate"
match = { application = "NetFlix" }
route = "zero"
add_to_set = "zero_rated"
)";

TEST_F(EngineTest, ASpoofedSniIsNotRoutedAddedToASetNorLearned) {
  load(kZeroRateSetPolicy);
  classifier_.script[2] = {tls("www.netflix.com", 0xC02F, "NetFlix"), true};
  engine(32, /*hints=*/true, /*keep_first_route=*/false);
  send(fromClient(kTcpSyn));
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, kClientHello)).mark, std::optional<uint32_t>(kDecided))
      << "the default: no route, no class";
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].rule, "");
  EXPECT_EQ(sink_.decisions[0].sets, 0u);
  const Flow* f = flowOf(fromClient(kTcpSyn));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->cls.name_proof, NameProof::Unverified);
  EXPECT_EQ(holder_.current()->ruleUnverified(0), 1u);
  EXPECT_EQ(hints_.counters().learned, 0u) << "a forged name teaches no server";
  EXPECT_FALSE(send(fromClientPort(40001, kTcpSyn)).mark.has_value()) << "no early answer for the next flow";
}

TEST_F(EngineTest, ANameThisClientResolvedIsVerified) {
  load(kZeroRateSetPolicy);
  classifier_.hosts["www.netflix.com"] = "NetFlix";
  classifier_.script[3] = {tls("www.netflix.com", 0xC02F, "NetFlix"), true};
  engine(32, true);
  resolve("www.netflix.com", {"10.9.9.9"});
  EXPECT_EQ(send(fromClient(kTcpSyn)).mark, std::optional<uint32_t>(kZeroRoute)) << "zero-rated from the SYN";
  send(fromServer(kTcpSyn | kTcpAck));
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, kClientHello)).mark, std::optional<uint32_t>(kDecided | kZeroRoute));
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].rule, "zero-rate");
  EXPECT_EQ(sink_.decisions[0].sets, 1u);
  EXPECT_EQ(flowOf(fromClient(kTcpSyn))->cls.name_proof, NameProof::Dns);
}

TEST_F(EngineTest, ANameAnotherClientResolvedDoesNotVerify) {
  load(kZeroRateSetPolicy);
  classifier_.script[2] = {tls("www.netflix.com", 0xC02F, "NetFlix"), true};
  engine(32, true, /*keep_first_route=*/false);
  // 10.1.0.3 resolves the name to the server; 10.1.0.2 connects.
  send(PacketBuilder().ipv4({.src = "10.1.0.3", .dst = "10.53.0.1"}).udp({.sport = 5353, .dport = 53}).payload("q").build());
  send(PacketBuilder()
           .ipv4({.src = "10.53.0.1", .dst = "10.1.0.3"})
           .udp({.sport = 53, .dport = 5353})
           .payload(test::dnsResponse("www.netflix.com", {"10.9.9.9"}))
           .build());
  EXPECT_FALSE(send(fromClient(kTcpSyn)).mark.has_value());
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, kClientHello)).mark, std::optional<uint32_t>(kDecided));
  EXPECT_EQ(flowOf(fromClient(kTcpSyn))->cls.name_proof, NameProof::Unverified);
}

TEST_F(EngineTest, TheCertificateCanStillVerifyAnUnverifiedSni) {
  load(kZeroRateSetPolicy);
  Classification hello = tls("www.netflix.com", 0, "NetFlix");  // SNI read, server hello pending
  classifier_.script[2] = {hello, false};
  classifier_.script[3] = {certified(tls("www.netflix.com", 0xC02F, "NetFlix")), true};
  engine(32, true, /*keep_first_route=*/false);
  send(fromClient(kTcpSyn));
  EXPECT_FALSE(send(fromClient(kTcpAck | kTcpPsh, kClientHello)).mark.has_value())
      << "not decided while the certificate may still verify the name";
  EXPECT_TRUE(sink_.decisions.empty());
  EXPECT_EQ(send(fromServer(kTcpAck | kTcpPsh, "server hello, certificate")).mark,
            std::optional<uint32_t>(kDecided | kZeroRoute));
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].sets, 1u);
  EXPECT_EQ(flowOf(fromClient(kTcpSyn))->cls.name_proof, NameProof::Certificate);
}

TEST_F(EngineTest, OperatorRangesVerify) {
  load(kZeroRateSetPolicy + std::string(R"(
[verified_ranges]
NetFlix = ["10.9.9.0/24"]
)"));
  classifier_.script[2] = {tls("www.netflix.com", 0xC02F, "NetFlix"), true};
  PolicyRanges ranges(holder_);
  EngineConfig c;
  c.keep_first_route = false;
  c.pipeline.app_ranges = &ranges;
  engine_ = std::make_unique<Engine>(c, classifier_, clock_, holder_);
  send(fromClient(kTcpSyn));
  EXPECT_EQ(send(fromClient(kTcpAck | kTcpPsh, kClientHello)).mark, std::optional<uint32_t>(kDecided | kZeroRoute));
  EXPECT_EQ(flowOf(fromClient(kTcpSyn))->cls.name_proof, NameProof::Range);
}

TEST(MarkLayout, Validation) {
  EXPECT_EQ(MarkLayout{}.validate(), "");
  EXPECT_NE((MarkLayout{.decided = 0x3, .drop = 0x4, .reject = 0x8, .value_mask = 0xf0}).validate(), "");
  EXPECT_NE((MarkLayout{.decided = 0x80, .drop = 0x40, .reject = 0x20, .value_mask = 0xff}).validate(), "");
  EXPECT_EQ((MarkLayout{.decided = 0x80, .drop = 0x40, .reject = 0x20, .value_mask = 0x1f}).validate(), "");
}

// --- rewriteAsTcpReset --------------------------------------------------

uint16_t checksum(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

TEST(TcpReset, Ipv4ServerHelloBecomesAValidReset) {
  const test::Bytes in = PacketBuilder()
                             .ipv4({.src = "10.9.9.9", .dst = "10.1.0.2", .id = 7})
                             .tcp({.sport = 443, .dport = 40000, .flags = kTcpAck | kTcpPsh,
                                   .seq = 1000, .ack = 2000, .options = {1, 1, 1, 1}})
                             .payload("server hello bytes")
                             .build();
  std::vector<uint8_t> out;
  ASSERT_TRUE(rewriteAsTcpReset(in, out));
  ASSERT_EQ(out.size(), 40u);
  DecodeResult d = decode(LinkType::Raw, out, 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.packet.src.toString(), "10.9.9.9");
  EXPECT_EQ(d.packet.dst_port, 40000);
  EXPECT_EQ(d.packet.tcp_flags, kTcpRst | kTcpAck);
  EXPECT_EQ(d.packet.payload_len, 0u);
  EXPECT_EQ(out[4 + 20] << 24 | out[5 + 20] << 16 | out[6 + 20] << 8 | out[7 + 20], 1000) << "seq kept";
  EXPECT_EQ(checksum(out.data(), 20), 0xffff) << "IPv4 header checksum";
  uint32_t pseudo = checksum(out.data() + 12, 8) + 6 + 20;
  EXPECT_EQ(checksum(out.data() + 20, 20, pseudo), 0xffff) << "TCP checksum";
}

TEST(TcpReset, Ipv6) {
  const test::Bytes in = PacketBuilder()
                             .ipv6({.src = "fd00::9", .dst = "fd00::2"})
                             .tcp({.sport = 443, .dport = 40000, .flags = kTcpAck, .seq = 5})
                             .payload("x")
                             .build();
  std::vector<uint8_t> out;
  ASSERT_TRUE(rewriteAsTcpReset(in, out));
  ASSERT_EQ(out.size(), 60u);
  EXPECT_EQ(out[4] << 8 | out[5], 20) << "payload length";
  uint32_t pseudo = checksum(out.data() + 8, 32) + 6 + 20;
  EXPECT_EQ(checksum(out.data() + 40, 20, pseudo), 0xffff);
}

TEST(TcpReset, RefusesWhatItCannotRewrite) {
  std::vector<uint8_t> out;
  EXPECT_FALSE(rewriteAsTcpReset(PacketBuilder().ipv4().udp().payload("x").build(), out));
  EXPECT_FALSE(rewriteAsTcpReset(test::Bytes{0x45, 0, 0, 40}, out));
  EXPECT_FALSE(rewriteAsTcpReset(test::Bytes{}, out));
  EXPECT_FALSE(rewriteAsTcpReset(
      PacketBuilder().ipv4({.frag_offset = 3}).tcp().payload("x").build(), out));
}

}  // namespace
}  // namespace fg::core

namespace fg::core {
namespace {

TEST(ClientOpening, HandshakesAreToldFromAnythingElse) {
  auto of = [](uint8_t proto, std::string_view bytes) {
    return clientOpeningOf(proto, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  };
  EXPECT_EQ(of(kProtoTcp, ""), ClientOpening::Unseen);
  EXPECT_EQ(of(kProtoTcp, std::string_view("\x16\x03\x01\x02\x00", 5)), ClientOpening::Handshake);
  EXPECT_EQ(of(kProtoTcp, std::string_view("\x80\x2e\x01\x00\x02", 5)), ClientOpening::Handshake) << "SSLv2 hello";
  EXPECT_EQ(of(kProtoTcp, "GET / HTTP/1.1\r\n"), ClientOpening::Other);
  EXPECT_EQ(of(kProtoTcp, "\x16"), ClientOpening::Other) << "one byte is no record";
  EXPECT_EQ(of(kProtoUdp, std::string_view("\x16\xfe\xfd\x00", 4)), ClientOpening::Handshake) << "DTLS";
  EXPECT_EQ(of(kProtoUdp, std::string_view("\xc3\x00\x00\x00\x01", 5)), ClientOpening::Handshake) << "QUIC long header";
  EXPECT_EQ(of(kProtoUdp, std::string_view("\x12\x34\x01\x00", 4)), ClientOpening::Other) << "a DNS query";
}

}  // namespace
}  // namespace fg::core
