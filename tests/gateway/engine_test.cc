// core::Engine: packets in, verdicts and marks out, with a scripted
// classifier and real compiled policies. No kernel, no nDPI.
#include "gateway/core/engine.h"

#include <gtest/gtest.h>

#include <map>

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
  int give_ups = 0;
};

class RecordingDecisions final : public DecisionSink {
 public:
  void onDecision(const Flow& f, const policy::Decision& d, const policy::PolicySet& p) override {
    decisions.push_back({f.id, d.verdict, std::string(p.ruleName(d.rule)), d.set_count});
  }
  void onFlowEnd(const Flow&, EndReason) override { ++ends; }
  struct Entry {
    uint64_t flow;
    policy::Verdict verdict;
    std::string rule;
    uint8_t sets;
  };
  std::vector<Entry> decisions;
  int ends = 0;
};

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
  Engine& engine(uint16_t budget = 32) {
    EngineConfig c;
    c.pipeline.packet_budget = budget;
    engine_ = std::make_unique<Engine>(c, classifier_, clock_, holder_, sink_);
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
  static test::Bytes fromServer(uint8_t flags, std::string_view payload = "") {
    return PacketBuilder()
        .ipv4({.src = "10.9.9.9", .dst = "10.1.0.2"})
        .tcp({.sport = 443, .dport = 40000, .flags = flags})
        .payload(payload)
        .build();
  }
  PacketVerdict send(const test::Bytes& pkt, uint32_t mark = 0) {
    clock_.advanceTo(clock_.now() + 1000);
    return engine_->process(pkt, clock_.now(), PacketContext{.mark = mark, .in_interface = "lan0"});
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
  PacketVerdict hello = send(fromClient(kTcpAck | kTcpPsh, "client hello"));
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
  PacketVerdict v = send(fromClient(kTcpAck | kTcpPsh, "client hello"));
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
  classifier_.script[2] = {tls("www.netflix.com", 0xC02F, "NetFlix"), true};
  engine();
  send(fromClient(kTcpSyn), 0x00010000);
  PacketVerdict v = send(fromClient(kTcpAck | kTcpPsh, "client hello"), 0x00ab0000 | 0x7);
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
  classifier_.script[1] = {tls("www.netflix.com", 0xC02F, "NetFlix"), true};
  engine();
  send(fromClient(kTcpAck | kTcpPsh, "client hello"));
  ASSERT_EQ(sink_.decisions.size(), 1u);
  EXPECT_EQ(sink_.decisions[0].sets, 1u);
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
