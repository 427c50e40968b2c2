// Flow health (core/health.h) through the engine: handshake, response and
// TLS times from packet timestamps, and connection failures. Timestamps are
// set per packet, so every figure is checked exactly.
#include "gateway/core/health.h"

#include <gtest/gtest.h>

#include <map>

#include "gateway/core/engine.h"
#include "tests/gateway/packet_builder.h"

namespace fg::core {
namespace {

using test::Bytes;
using test::PacketBuilder;

// Classifies as TLS at the n-th inspected packet when `final_at` says so.
class StubClassifier final : public Classifier {
 public:
  uint16_t final_at = 0;  // 0 = never final
  std::unique_ptr<FlowInspection> begin(const Flow&) override { return std::make_unique<FlowInspection>(); }
  bool inspect(Flow& flow, const Packet&, Direction) override {
    flow.cls.l7_protocol = flow.cls.application = "TLS";
    flow.cls.confidence = Confidence::Dpi;
    return final_at != 0 && flow.dpi_packets >= final_at;
  }
  void giveUp(Flow& flow) override {
    if (flow.cls.application.empty()) flow.cls.application = flow.cls.l7_protocol = "Unknown";
  }
  bool matchHostname(std::string_view, Classification&) override { return false; }
};

const policy::NameCatalog& catalog() {
  static const policy::NameCatalog c{.protocols = {"Unknown", "TLS"}, .categories = {"Web"}};
  return c;
}

// A TLS record header and the first handshake message type.
Bytes tlsRecord(uint8_t content, uint8_t hs_type, size_t body = 40) {
  Bytes b{content, 0x03, 0x03, static_cast<uint8_t>((body + 4) >> 8), static_cast<uint8_t>(body + 4), hs_type,
          0, 0, static_cast<uint8_t>(body)};
  b.resize(9 + body, 0xab);
  return b;
}

constexpr Timestamp kT0 = 1'700'000'000'000'000;

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A rule on the server's cipher keeps flows undecided until the
    // classifier's answer is final.
    auto r = holder_.reloadSources(std::vector<policy::PolicySource>{{"t.toml", R"(
[[rule]]
name = "weak"
match = { cipher_strength = ["insecure"] }
action = "reject"
)"}});
    ASSERT_TRUE(r.ok());
    EngineConfig c;
    engine_ = std::make_unique<Engine>(c, classifier_, clock_, holder_);
  }
  static Bytes client(uint8_t flags, Bytes payload = {}, uint16_t sport = 40000) {
    return PacketBuilder()
        .ipv4({.src = "10.1.0.2", .dst = "10.9.9.9"})
        .tcp({.sport = sport, .dport = 443, .flags = flags})
        .payload(std::move(payload))
        .build();
  }
  static Bytes server(uint8_t flags, Bytes payload = {}, uint16_t dport = 40000) {
    return PacketBuilder()
        .ipv4({.src = "10.9.9.9", .dst = "10.1.0.2"})
        .tcp({.sport = 443, .dport = dport, .flags = flags})
        .payload(std::move(payload))
        .build();
  }
  // The packet at kT0 + us.
  ProcessResult at(Timestamp us, const Bytes& pkt) {
    clock_.advanceTo(kT0 + us);
    ProcessResult r = engine_->process(pkt, kT0 + us, PacketContext{});
    for (auto& e : r.ended) ended_.push_back(e);
    return r;
  }
  const Flow* flow(uint16_t sport = 40000) const {
    const Flow* found = nullptr;
    engine_->pipeline().table().forEach([&](const Flow& f) {
      if (f.src_port == sport && f.proto == kProtoTcp) found = &f;
    });
    return found;
  }

  policy::PolicyHolder holder_{policy::LoadOptions{.catalog = &catalog()}};
  StubClassifier classifier_;
  ManualClock clock_;
  std::unique_ptr<Engine> engine_;
  std::vector<EndedFlow> ended_;
};

// What the inline path sees by default: neither the SYN-ACK nor the bare
// ACK is queued (skip_bare_tcp), so the handshake runs from the SYN to the
// ClientHello (an upper bound) and has no server/client split.
TEST_F(HealthTest, InlineTlsFiguresFromQueuedPacketsOnly) {
  at(0, client(kTcpSyn));
  at(55'000, client(kTcpAck | kTcpPsh, tlsRecord(0x16, 1)));
  at(55'000 + 62'500, server(kTcpAck, tlsRecord(0x16, 2)));
  ASSERT_NE(flow(), nullptr);
  const HealthFigures h = healthFigures(flow()->health);
  EXPECT_EQ(h.handshake, 55'000);
  EXPECT_FALSE(h.handshake_exact);
  EXPECT_EQ(h.handshake_server, -1) << "no SYN-ACK seen";
  EXPECT_EQ(h.handshake_client, -1);
  EXPECT_EQ(h.response, 62'500);
  EXPECT_EQ(h.tls_hello, 62'500);
  EXPECT_EQ(h.tls_handshake, -1) << "no client application data seen";
  EXPECT_EQ(h.failure, HealthFailure::None);
  EXPECT_EQ(h.syn_retries, 0);
}

// Inline with skip_bare_tcp = false the SYN-ACK is queued: the split.
TEST_F(HealthTest, SynAckSplitsTheHandshake) {
  at(0, client(kTcpSyn));
  at(40'000, server(kTcpSyn | kTcpAck));
  at(55'000, client(kTcpAck | kTcpPsh, tlsRecord(0x16, 1)));
  const HealthFigures h = healthFigures(flow()->health);
  EXPECT_EQ(h.handshake_server, 40'000);
  EXPECT_EQ(h.handshake_client, 15'000);
  EXPECT_EQ(h.handshake, 55'000);
  EXPECT_FALSE(h.handshake_exact);
}

// A capture sees every packet: the bare ACK makes the client side exact,
// and the client's first application_data record (after a CCS) ends the
// TLS handshake.
TEST_F(HealthTest, CaptureSeesTheBareAckAndTheTlsHandshakeEnd) {
  at(0, client(kTcpSyn));
  at(30'000, server(kTcpSyn | kTcpAck));
  at(30'200, client(kTcpAck));
  at(31'000, client(kTcpAck | kTcpPsh, tlsRecord(0x16, 1)));
  at(61'000, server(kTcpAck, tlsRecord(0x16, 2)));
  at(61'100, server(kTcpAck, tlsRecord(0x17, 0)));  // encrypted extensions etc.
  at(61'300, client(kTcpAck));
  Bytes fin{0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
  const Bytes app = tlsRecord(0x17, 0);
  fin.insert(fin.end(), app.begin(), app.end());
  at(62'000, client(kTcpAck | kTcpPsh, fin));
  at(93'000, client(kTcpAck | kTcpPsh, tlsRecord(0x17, 0)));
  const HealthFigures h = healthFigures(flow()->health);
  EXPECT_EQ(h.handshake_server, 30'000);
  EXPECT_EQ(h.handshake_client, 200);
  EXPECT_EQ(h.handshake, 30'200);
  EXPECT_TRUE(h.handshake_exact);
  EXPECT_EQ(h.response, 30'000);
  EXPECT_EQ(h.tls_hello, 30'000);
  EXPECT_EQ(h.tls_handshake, 31'000);
}

TEST_F(HealthTest, RetransmittedSynCountsAndTheRttIsFromTheLastSyn) {
  at(0, client(kTcpSyn));
  at(1'000'000, client(kTcpSyn));
  at(1'020'000, server(kTcpSyn | kTcpAck));
  const HealthFigures h = healthFigures(flow()->health);
  EXPECT_EQ(h.syn_retries, 1);
  EXPECT_EQ(h.handshake_server, 20'000);
  EXPECT_EQ(h.handshake, -1) << "the client side is not seen yet";
}

TEST_F(HealthTest, ResetInsteadOfSynAckIsRefusedAndReportedAtTheEnd) {
  at(0, client(kTcpSyn));
  at(5'000, server(kTcpRst | kTcpAck));
  EXPECT_EQ(flow()->health.failure, HealthFailure::Refused);
  // The closed flow lingers, then ends; it was never decided, so its health
  // leaves with the end.
  at(100 * kSecond, client(kTcpSyn, {}, 40001));
  for (auto& e : engine_->expireIdle()) ended_.push_back(e);
  ASSERT_FALSE(ended_.empty());
  const EndedFlow& e = ended_.front();
  EXPECT_FALSE(e.decided);
  EXPECT_EQ(e.reason, EndReason::Rst);
  EXPECT_EQ(e.health.failure, HealthFailure::Refused);
  EXPECT_EQ(e.health.resets, 2);
  EXPECT_EQ(e.application, "TLS");
  EXPECT_EQ(e.src.toString(), "10.1.0.2");
}

TEST_F(HealthTest, ResetAfterTheHandshakeIsNoFailure) {
  at(0, client(kTcpSyn));
  at(5'000, server(kTcpSyn | kTcpAck));
  at(6'000, server(kTcpRst));
  HealthFigures h = healthFigures(flow()->health);
  EXPECT_EQ(h.failure, HealthFailure::None);
  EXPECT_EQ(h.resets, 2);
  // Inline (no SYN-ACK queued): the client's data shows the connection stood.
  at(10 * kSecond, client(kTcpSyn, {}, 40002));
  at(10 * kSecond + 100, client(kTcpAck | kTcpPsh, tlsRecord(0x16, 1), 40002));
  at(10 * kSecond + 200, server(kTcpRst | kTcpAck, {}, 40002));
  h = healthFigures(flow(40002)->health);
  EXPECT_EQ(h.failure, HealthFailure::None);
  EXPECT_EQ(h.resets, 2);
}

TEST_F(HealthTest, UnansweredSynFailsWhenTheFlowExpires) {
  at(0, client(kTcpSyn));
  at(3 * kSecond, client(kTcpSyn));
  EXPECT_EQ(flow()->health.failure, HealthFailure::None) << "still waiting";
  clock_.advanceTo(kT0 + 3600 * kSecond);
  for (auto& e : engine_->expireIdle()) ended_.push_back(e);
  ASSERT_EQ(ended_.size(), 1u);
  EXPECT_EQ(ended_[0].reason, EndReason::Idle);
  EXPECT_EQ(ended_[0].health.failure, HealthFailure::NoAnswer);
  EXPECT_EQ(ended_[0].health.syn_retries, 1);
}

// Inline, an answered connection whose SYN-ACK and ACK were not queued and
// that carried nothing yet ends as no failure once the server spoke.
TEST_F(HealthTest, ServerSpeakingFirstIsAnAnswer) {
  at(0, client(kTcpSyn));
  at(30'000, server(kTcpAck | kTcpPsh, Bytes{'2', '2', '0', ' '}));
  clock_.advanceTo(kT0 + 3600 * kSecond);
  for (auto& e : engine_->expireIdle()) ended_.push_back(e);
  ASSERT_EQ(ended_.size(), 1u);
  EXPECT_EQ(ended_[0].health.failure, HealthFailure::None);
}

// A SYN flood fills the table: an evicted flow is no failure, and carries no
// health to report (no work per eviction).
TEST_F(HealthTest, EvictedSynOnlyFlowsAreNoFailure) {
  EngineConfig c;
  c.pipeline.table.max_flows = 1;
  engine_ = std::make_unique<Engine>(c, classifier_, clock_, holder_);
  at(0, client(kTcpSyn, {}, 40001));
  at(1'000, client(kTcpSyn, {}, 40002));
  ASSERT_EQ(ended_.size(), 1u);
  EXPECT_EQ(ended_[0].reason, EndReason::Evicted);
  EXPECT_EQ(ended_[0].health.failure, HealthFailure::None);
  EXPECT_FALSE(ended_[0].health.any());
  EXPECT_TRUE(ended_[0].application.empty());
}

TEST_F(HealthTest, UnansweredSynAtShutdownIsNoVerdictOnTheServer) {
  at(0, client(kTcpSyn));
  for (auto& e : engine_->finish(EndReason::Shutdown)) ended_.push_back(e);
  ASSERT_EQ(ended_.size(), 1u);
  EXPECT_EQ(ended_[0].health.failure, HealthFailure::None);
}

// An ICMP error quoting the client's SYN (IP header + 8 bytes of TCP, as
// RFC 792 requires at least).
Bytes unreachable(uint8_t code, const Bytes& quoted_packet, size_t quote = 28) {
  Bytes q(quoted_packet.begin(), quoted_packet.begin() + static_cast<long>(std::min(quote, quoted_packet.size())));
  return PacketBuilder()
      .ipv4({.src = "10.0.0.254", .dst = "10.1.0.2"})
      .icmp({.type = 3, .code = code, .id = 0, .seq = 0})
      .payload(q)
      .build();
}

TEST_F(HealthTest, IcmpUnreachableForTheClientsSynIsAFailure) {
  const Bytes syn = client(kTcpSyn);
  at(0, syn);
  at(2'000, unreachable(1, syn));  // host unreachable
  const HealthFigures h = healthFigures(flow()->health);
  EXPECT_EQ(h.failure, HealthFailure::Unreachable);
  EXPECT_EQ(h.icmp_type, 3);
  EXPECT_EQ(h.icmp_code, 1);
}

TEST_F(HealthTest, FragmentationNeededAndUnreachableAfterAnAnswerAreNoFailure) {
  const Bytes syn = client(kTcpSyn);
  at(0, syn);
  at(1'000, unreachable(4, syn));  // path MTU discovery
  EXPECT_EQ(flow()->health.failure, HealthFailure::None);
  at(2'000, server(kTcpSyn | kTcpAck));
  at(3'000, unreachable(3, syn));
  EXPECT_EQ(flow()->health.failure, HealthFailure::None);
}

TEST_F(HealthTest, Icmpv6UnreachableQuotingTheClient) {
  const Bytes syn = PacketBuilder()
                        .ipv6({.src = "fd00::2", .dst = "fd09::9"})
                        .tcp({.sport = 40000, .dport = 443, .flags = kTcpSyn})
                        .build();
  at(0, syn);
  const Bytes err = PacketBuilder()
                        .ipv6({.src = "fd00::fe", .dst = "fd00::2"})
                        .icmpv6({.type = 1, .code = 4, .id = 0, .seq = 0})
                        .payload(Bytes(syn.begin(), syn.begin() + 48))
                        .build();
  at(1'500, err);
  const HealthFigures h = healthFigures(flow()->health);
  EXPECT_EQ(h.failure, HealthFailure::Unreachable);
  EXPECT_EQ(h.icmp_type, 1);
  EXPECT_EQ(h.icmp_code, 4);
}

TEST_F(HealthTest, UdpResponseTime) {
  const Bytes q = PacketBuilder()
                      .ipv4({.src = "10.1.0.2", .dst = "10.53.0.1"})
                      .udp({.sport = 33333, .dport = 53})
                      .payload("query")
                      .build();
  const Bytes a = PacketBuilder()
                      .ipv4({.src = "10.53.0.1", .dst = "10.1.0.2"})
                      .udp({.sport = 53, .dport = 33333})
                      .payload("answer")
                      .build();
  at(0, q);
  at(12'345, a);
  at(20'000, a);
  const Flow* f = nullptr;
  engine_->pipeline().table().forEach([&](const Flow& x) {
    if (x.proto == kProtoUdp) f = &x;
  });
  ASSERT_NE(f, nullptr);
  const HealthFigures h = healthFigures(f->health);
  EXPECT_EQ(h.response, 12'345);
  EXPECT_EQ(h.handshake, -1);
  EXPECT_EQ(h.tls_hello, -1);
}

// The health of a flow the engine decided stays with the flow (its record
// carries it); the end of a decided flow carries none.
TEST_F(HealthTest, DecidedFlowsEndWithoutHealth) {
  classifier_.final_at = 3;  // SYN, SYN-ACK, ClientHello
  at(0, client(kTcpSyn));
  at(10'000, server(kTcpSyn | kTcpAck));
  const ProcessResult r = at(12'000, client(kTcpAck | kTcpPsh, tlsRecord(0x16, 1)));
  ASSERT_TRUE(r.decided.has_value());
  EXPECT_EQ(healthFigures(r.decided->flow->health).handshake, 12'000);
  EXPECT_EQ(healthFigures(r.decided->flow->health).handshake_server, 10'000);
  for (auto& e : engine_->finish(EndReason::Shutdown)) ended_.push_back(e);
  ASSERT_EQ(ended_.size(), 1u);
  EXPECT_TRUE(ended_[0].decided);
  EXPECT_FALSE(ended_[0].health.any());
}

}  // namespace
}  // namespace fg::core
