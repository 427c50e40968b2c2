// Pipeline: flows, directions, counters, classification lifecycle and flow
// ends, driven by PacketBuilder frames, a FakeClassifier, a RecordingSink and
// a ManualClock.
#include "gateway/core/pipeline.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/core/classifier.h"
#include "gateway/core/clock.h"
#include "tests/gateway/packet_builder.h"

namespace fg::core {
namespace {

using test::Bytes;
using test::PacketBuilder;

// A Classifier that answers after a fixed number of packets and records every call.
class FakeClassifier final : public Classifier {
 public:
  struct Options {
    uint16_t final_after = 0;   // packets until inspect() returns true; 0 = never
    bool refuse_begin = false;  // begin() returns nullptr
    std::string app = "FakeApp";
  };

  // Counts live instances, so tests can see when the pipeline frees them.
  class Inspection final : public FlowInspection {
   public:
    explicit Inspection(int& live) : live_(live) { ++live_; }
    ~Inspection() override { --live_; }
    Inspection(const Inspection&) = delete;
    Inspection& operator=(const Inspection&) = delete;
    int seen = 0;

   private:
    int& live_;
  };

  struct InspectCall {
    uint64_t flow_id;
    Direction dir;
    uint32_t payload_len;
  };

  explicit FakeClassifier(Options o) : opt_(std::move(o)) {}

  // core::Classifier
  std::unique_ptr<FlowInspection> begin(const Flow& flow) override {
    begins.push_back(flow.id);
    if (opt_.refuse_begin) return nullptr;
    return std::make_unique<Inspection>(live);
  }
  bool inspect(Flow& flow, const Packet& p, Direction dir) override {
    inspects.push_back({.flow_id = flow.id, .dir = dir, .payload_len = p.payload_len});
    auto* st = dynamic_cast<Inspection*>(flow.inspection.get());
    EXPECT_NE(st, nullptr) << "inspect() without the state from begin()";
    if (!st) return false;
    ++st->seen;
    if (opt_.final_after == 0 || st->seen < opt_.final_after) return false;
    flow.cls.application = opt_.app;
    flow.cls.l7_protocol = opt_.app;
    flow.cls.confidence = Confidence::Dpi;
    return true;
  }
  void giveUp(Flow& flow) override {
    giveups.push_back(flow.id);
    flow.cls.application = "Guessed";
    flow.cls.confidence = Confidence::Guessed;
  }

  size_t inspectsOf(uint64_t id) const {
    size_t n = 0;
    for (const auto& c : inspects) n += c.flow_id == id;
    return n;
  }

  int live = 0;
  std::vector<uint64_t> begins, giveups;
  std::vector<InspectCall> inspects;

 private:
  Options opt_;
};

// A FlowEventSink that keeps a snapshot of the flow at each event.
class RecordingSink final : public FlowEventSink {
 public:
  enum class Kind { Classified, End };
  struct Event {
    Kind kind;
    uint64_t flow_id;
    EndReason reason;
    std::string src, dst;
    uint16_t src_port, dst_port;
    uint64_t packets[2], bytes[2];
    uint16_t dpi_packets;
    bool has_inspection;
    bool classified;
    Confidence confidence;
    std::string application;
    Tunnel tunnel;
  };

  // core::FlowEventSink
  void onClassified(const Flow& f) override { events.push_back(snap(Kind::Classified, f, {})); }
  void onFlowEnd(const Flow& f, EndReason r) override { events.push_back(snap(Kind::End, f, r)); }

  std::vector<Event> of(Kind k) const {
    std::vector<Event> v;
    for (const auto& e : events)
      if (e.kind == k) v.push_back(e);
    return v;
  }
  std::vector<Event> ends() const { return of(Kind::End); }
  std::vector<Event> classified() const { return of(Kind::Classified); }

  std::vector<Event> events;

 private:
  static Event snap(Kind k, const Flow& f, EndReason r) {
    return Event{.kind = k, .flow_id = f.id, .reason = r, .src = f.src.toString(),
                 .dst = f.dst.toString(), .src_port = f.src_port, .dst_port = f.dst_port,
                 .packets = {f.packets[0], f.packets[1]}, .bytes = {f.bytes[0], f.bytes[1]},
                 .dpi_packets = f.dpi_packets, .has_inspection = f.inspection != nullptr,
                 .classified = f.classified, .confidence = f.cls.confidence,
                 .application = f.cls.application, .tunnel = f.tunnel};
  }
};

// Member order matters: the pipeline borrows the three before it.
struct Harness {
  explicit Harness(PipelineConfig cfg = {}, FakeClassifier::Options o = {})
      : classifier(std::move(o)), pipe(cfg, classifier, clock, sink) {}

  // Steps one Ethernet frame; the clock follows the packets as in offline mode.
  StepResult send(const Bytes& frame, Timestamp ts) {
    clock.advanceTo(ts);
    return pipe.step(LinkType::Ethernet, frame, ts);
  }
  void expireAt(Timestamp t) {
    clock.advanceTo(t);
    pipe.expireIdle();
  }

  FakeClassifier classifier;
  ManualClock clock;
  RecordingSink sink;
  Pipeline pipe;
};

constexpr const char* kClient = "10.0.0.1";
constexpr const char* kServer = "10.0.0.2";
constexpr uint16_t kClientPort = 40000, kServerPort = 443;
constexpr Timestamp kT0 = 1'700'000'000 * kSecond;

Bytes tcpFrame(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint8_t flags,
               size_t payload = 0) {
  return PacketBuilder().eth().ipv4({.src = src, .dst = dst})
      .tcp({.sport = sport, .dport = dport, .flags = flags})
      .payload(Bytes(payload, 'x')).build();
}
Bytes c2s(uint8_t flags, size_t payload = 0) {
  return tcpFrame(kClient, kClientPort, kServer, kServerPort, flags, payload);
}
Bytes s2c(uint8_t flags, size_t payload = 0) {
  return tcpFrame(kServer, kServerPort, kClient, kClientPort, flags, payload);
}
Bytes udpFrame(const char* src, uint16_t sport, const char* dst, uint16_t dport,
               size_t payload = 0, uint16_t vlan = 0) {
  test::EthSpec eth;
  if (vlan) eth.vlans.push_back({.id = vlan});
  return PacketBuilder().eth(eth).ipv4({.src = src, .dst = dst})
      .udp({.sport = sport, .dport = dport}).payload(Bytes(payload, 'u')).build();
}

// SYN, SYN-ACK, ACK starting at `t`, 1 ms apart.
void handshake(Harness& h, Timestamp t) {
  h.send(c2s(kTcpSyn), t);
  h.send(s2c(kTcpSyn | kTcpAck), t + 1000);
  h.send(c2s(kTcpAck), t + 2000);
}

// ---- direction and counters ------------------------------------------------------

TEST(Pipeline, FirstSenderIsSrcAndCountersArePerDirection) {
  Harness h;
  const Bytes req = udpFrame(kClient, 5555, kServer, 53, 10);   // ip_bytes 38
  const Bytes resp = udpFrame(kServer, 53, kClient, 5555, 100); // ip_bytes 128
  const StepResult first = h.send(req, kT0);
  ASSERT_NE(first.flow, nullptr);
  EXPECT_TRUE(first.new_flow);
  EXPECT_EQ(first.direction, Direction::SrcToDst);
  const Flow* f = first.flow;
  EXPECT_EQ(f->src.toString(), kClient);
  EXPECT_EQ(f->src_port, 5555);
  EXPECT_EQ(f->dst.toString(), kServer);
  EXPECT_EQ(f->dst_port, 53);
  EXPECT_EQ(f->proto, kProtoUdp);
  EXPECT_EQ(f->ip_version, 4);

  const StepResult r2 = h.send(resp, kT0 + 1);
  EXPECT_EQ(r2.flow, f);
  EXPECT_FALSE(r2.new_flow);
  EXPECT_EQ(r2.direction, Direction::DstToSrc);
  h.send(req, kT0 + 2);
  h.send(req, kT0 + 3);
  h.send(resp, kT0 + 4);

  EXPECT_EQ(f->packets[0], 3u);
  EXPECT_EQ(f->packets[1], 2u);
  EXPECT_EQ(f->bytes[0], 3u * 38);
  EXPECT_EQ(f->bytes[1], 2u * 128);
  EXPECT_EQ(f->first_seen, kT0);
  EXPECT_EQ(f->last_seen, kT0 + 4);
  EXPECT_EQ(h.pipe.counters().packets, 5u);
  EXPECT_EQ(h.pipe.counters().decoded, 5u);
  EXPECT_EQ(h.pipe.counters().bytes, 3u * 38 + 2u * 128);
  EXPECT_EQ(h.pipe.table().size(), 1u);
  EXPECT_EQ(h.pipe.table().counters().created, 1u);
}

TEST(Pipeline, CaptureStartingAtSynAckMakesTheSynSenderSrc) {
  Harness h;
  const StepResult r = h.send(s2c(kTcpSyn | kTcpAck), kT0);
  ASSERT_NE(r.flow, nullptr);
  const Flow* f = r.flow;
  EXPECT_EQ(f->src.toString(), kClient);
  EXPECT_EQ(f->src_port, kClientPort);
  EXPECT_EQ(f->dst.toString(), kServer);
  EXPECT_EQ(f->dst_port, kServerPort);
  EXPECT_EQ(r.direction, Direction::DstToSrc);
  EXPECT_EQ(f->packets[1], 1u);
  EXPECT_EQ(f->packets[0], 0u);
  EXPECT_EQ(f->tcp, TcpState::SynReceived);

  const StepResult ack = h.send(c2s(kTcpAck), kT0 + 10);
  EXPECT_EQ(ack.flow, f);
  EXPECT_EQ(ack.direction, Direction::SrcToDst);
  EXPECT_EQ(f->tcp, TcpState::Established);
}

TEST(Pipeline, TcpHandshakeStates) {
  Harness h;
  Flow* f = h.send(c2s(kTcpSyn), kT0).flow;
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tcp, TcpState::SynSent);
  h.send(s2c(kTcpSyn | kTcpAck), kT0 + 1);
  EXPECT_EQ(f->tcp, TcpState::SynReceived);
  h.send(c2s(kTcpAck), kT0 + 2);
  EXPECT_EQ(f->tcp, TcpState::Established);
  h.send(c2s(kTcpFin | kTcpAck), kT0 + 3);
  EXPECT_EQ(f->tcp, TcpState::Closing);
  EXPECT_EQ(f->fin_seen, 1);
  h.send(s2c(kTcpFin | kTcpAck), kT0 + 4);
  EXPECT_EQ(f->tcp, TcpState::Closed);
  EXPECT_EQ(f->fin_seen, 3);
}

TEST(Pipeline, MidStreamTcpBecomesEstablishedOnceBothSidesSpoke) {
  Harness h;
  Flow* f = h.send(c2s(kTcpAck, 100), kT0).flow;
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->src.toString(), kClient);
  EXPECT_EQ(f->tcp, TcpState::None);
  h.send(s2c(kTcpAck), kT0 + 1);
  EXPECT_EQ(f->tcp, TcpState::Established);
}

TEST(Pipeline, VlansSeparateFlows) {
  Harness h;
  const Flow* a = h.send(udpFrame(kClient, 1, kServer, 2, 0, 10), kT0).flow;
  const Flow* b = h.send(udpFrame(kClient, 1, kServer, 2, 0, 20), kT0).flow;
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(h.pipe.table().size(), 2u);
}

TEST(Pipeline, TunnelledFlowIsKeyedOnTheInnerPacketAndCountsOuterBytes) {
  Harness h;
  auto gtp = [](const char* src, uint16_t sport, const char* dst, uint16_t dport) {
    return PacketBuilder().eth().ipv4({.src = "192.0.2.1", .dst = "192.0.2.2"})
        .udp({.sport = 2152, .dport = 2152}).gtp().ipv4({.src = src, .dst = dst})
        .udp({.sport = sport, .dport = dport}).payload("q").build();
  };
  const StepResult r1 = h.send(gtp("100.64.0.1", 3333, "8.8.8.8", 53), kT0);
  const StepResult r2 = h.send(gtp("8.8.8.8", 53, "100.64.0.1", 3333), kT0 + 1);
  ASSERT_NE(r1.flow, nullptr);
  EXPECT_EQ(r2.flow, r1.flow);
  EXPECT_EQ(r1.flow->src.toString(), "100.64.0.1");
  EXPECT_EQ(r1.flow->tunnel, Tunnel::Gtp);
  // Outer IP: 20 + 8 (UDP) + 8 (GTP) + 20 + 8 + 1.
  EXPECT_EQ(r1.flow->bytes[0], 65u);
  EXPECT_EQ(r1.flow->bytes[1], 65u);
}

// ---- classification lifecycle --------------------------------------------------------

TEST(Pipeline, FinalAnswerAfterNPacketsEndsInspection) {
  Harness h({}, {.final_after = 3});
  std::vector<StepResult> rs;
  rs.push_back(h.send(c2s(kTcpSyn), kT0));
  const uint64_t id = rs[0].flow->id;
  EXPECT_EQ(h.classifier.live, 1) << "begin() state lives while inspecting";
  rs.push_back(h.send(s2c(kTcpSyn | kTcpAck), kT0 + 1));
  rs.push_back(h.send(c2s(kTcpAck, 50), kT0 + 2));
  EXPECT_EQ(h.classifier.live, 0) << "inspection state must be freed at the final answer";
  rs.push_back(h.send(s2c(kTcpAck, 500), kT0 + 3));
  rs.push_back(h.send(c2s(kTcpAck), kT0 + 4));

  EXPECT_EQ(h.classifier.begins, (std::vector<uint64_t>{id}));
  ASSERT_EQ(h.classifier.inspects.size(), 3u);
  EXPECT_EQ(h.classifier.inspects[0].dir, Direction::SrcToDst);
  EXPECT_EQ(h.classifier.inspects[1].dir, Direction::DstToSrc);
  EXPECT_EQ(h.classifier.inspects[2].dir, Direction::SrcToDst);
  EXPECT_EQ(h.classifier.inspects[2].payload_len, 50u);
  EXPECT_TRUE(h.classifier.giveups.empty());

  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(rs[i].classified_now, i == 2) << i;
  const Flow* f = rs[0].flow;
  EXPECT_TRUE(f->classified);
  EXPECT_EQ(f->dpi_packets, 3);
  EXPECT_EQ(f->inspection, nullptr);
  EXPECT_EQ(f->cls.application, "FakeApp");

  const auto cls = h.sink.classified();
  ASSERT_EQ(cls.size(), 1u);
  EXPECT_EQ(cls[0].flow_id, id);
  EXPECT_FALSE(cls[0].has_inspection) << "state freed before onClassified";
  EXPECT_EQ(cls[0].confidence, Confidence::Dpi);
  EXPECT_EQ(cls[0].dpi_packets, 3);
  EXPECT_EQ(h.pipe.counters().inspected_packets, 3u);
  EXPECT_EQ(h.pipe.counters().classified_final, 1u);
  EXPECT_EQ(h.pipe.counters().classified_giveup, 0u);

  h.pipe.finish();
  EXPECT_EQ(h.sink.classified().size(), 1u) << "onClassified exactly once per flow";
  EXPECT_TRUE(h.classifier.giveups.empty());
}

TEST(Pipeline, PacketBudgetGivesUpExactlyOnce) {
  PipelineConfig cfg;
  cfg.packet_budget = 4;
  Harness h(cfg, {.final_after = 0});
  Flow* f = nullptr;
  for (int i = 0; i < 10; ++i) {
    const StepResult r = h.send(udpFrame(kClient, 1234, kServer, 9999, 20), kT0 + i);
    f = r.flow;
    EXPECT_EQ(r.classified_now, i == 3) << i;
    EXPECT_EQ(h.classifier.live, i < 3 ? 1 : 0) << i;
  }
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(h.classifier.inspects.size(), 4u);
  EXPECT_EQ(h.classifier.giveups.size(), 1u);
  EXPECT_EQ(f->dpi_packets, 4);
  EXPECT_EQ(f->packets[0], 10u);
  EXPECT_EQ(f->cls.confidence, Confidence::Guessed);
  EXPECT_EQ(h.sink.classified().size(), 1u);
  EXPECT_EQ(h.pipe.counters().classified_giveup, 1u);
  EXPECT_EQ(h.pipe.counters().classified_final, 0u);
  EXPECT_EQ(h.pipe.counters().inspected_packets, 4u);

  h.pipe.finish();
  EXPECT_EQ(h.classifier.giveups.size(), 1u) << "no second giveUp at the end";
  EXPECT_EQ(h.sink.classified().size(), 1u);
  ASSERT_EQ(h.sink.ends().size(), 1u);
  EXPECT_EQ(h.sink.ends()[0].reason, EndReason::EndOfInput);
}

TEST(Pipeline, FinalAnswerOnTheLastBudgetedPacketIsFinal) {
  PipelineConfig cfg;
  cfg.packet_budget = 3;
  Harness h(cfg, {.final_after = 3});
  for (int i = 0; i < 3; ++i) h.send(udpFrame(kClient, 1, kServer, 2), kT0 + i);
  EXPECT_TRUE(h.classifier.giveups.empty());
  EXPECT_EQ(h.pipe.counters().classified_final, 1u);
  EXPECT_EQ(h.pipe.counters().classified_giveup, 0u);
}

TEST(Pipeline, ClassifierRefusingAFlowLeavesItGuessedOnce) {
  Harness h({}, {.refuse_begin = true});
  const StepResult r = h.send(udpFrame(kClient, 1, kServer, 2), kT0);
  ASSERT_NE(r.flow, nullptr);
  EXPECT_TRUE(r.classified_now);
  for (int i = 1; i < 5; ++i) h.send(udpFrame(kServer, 2, kClient, 1), kT0 + i);
  EXPECT_EQ(h.classifier.begins.size(), 1u);
  EXPECT_TRUE(h.classifier.inspects.empty());
  EXPECT_EQ(h.classifier.giveups.size(), 1u);
  EXPECT_EQ(r.flow->dpi_packets, 0);
  EXPECT_TRUE(r.flow->classified);
  EXPECT_EQ(h.sink.classified().size(), 1u);
  EXPECT_EQ(h.pipe.counters().inspected_packets, 0u);
  EXPECT_EQ(h.pipe.counters().classified_giveup, 1u);
}

TEST(Pipeline, EachFlowHasItsOwnInspection) {
  Harness h({}, {.final_after = 2});
  const uint64_t a = h.send(udpFrame(kClient, 1, kServer, 2), kT0).flow->id;
  const uint64_t b = h.send(udpFrame(kClient, 3, kServer, 4), kT0 + 1).flow->id;
  EXPECT_EQ(h.classifier.live, 2);
  h.send(udpFrame(kServer, 2, kClient, 1), kT0 + 2);
  EXPECT_EQ(h.classifier.live, 1);
  EXPECT_EQ(h.classifier.inspectsOf(a), 2u);
  EXPECT_EQ(h.classifier.inspectsOf(b), 1u);
  h.pipe.finish();
  EXPECT_EQ(h.classifier.live, 0);
  EXPECT_EQ(h.classifier.giveups, (std::vector<uint64_t>{b}));
}

TEST(Pipeline, StopInspectionFreesStateAndReportsOnce) {
  Harness h({}, {.final_after = 0});
  const StepResult r = h.send(udpFrame(kClient, 1, kServer, 2), kT0);
  ASSERT_NE(r.flow, nullptr);
  EXPECT_EQ(h.classifier.live, 1);
  h.pipe.stopInspection(*r.flow);
  EXPECT_EQ(h.classifier.live, 0);
  EXPECT_EQ(r.flow->inspection, nullptr);
  EXPECT_TRUE(r.flow->classified);
  ASSERT_EQ(h.sink.classified().size(), 1u);
  EXPECT_EQ(h.pipe.counters().classified_giveup, 1u) << "no DPI answer: counted as given up";
  EXPECT_EQ(h.pipe.counters().classified_final, 0u);
  h.pipe.stopInspection(*r.flow);  // idempotent
  h.send(udpFrame(kServer, 2, kClient, 1), kT0 + 1);
  h.pipe.finish();
  EXPECT_EQ(h.sink.classified().size(), 1u);
  EXPECT_EQ(h.classifier.inspects.size(), 1u) << "no inspection after stopInspection";
}

TEST(Pipeline, StopInspectionAfterADpiAnswerCountsAsFinal) {
  Harness h({}, {.final_after = 0});
  const StepResult r = h.send(udpFrame(kClient, 1, kServer, 2), kT0);
  ASSERT_NE(r.flow, nullptr);
  r.flow->cls.confidence = Confidence::Dpi;  // what a classifier may know before it is done
  h.pipe.stopInspection(*r.flow);
  EXPECT_EQ(h.pipe.counters().classified_final, 1u);
  EXPECT_EQ(h.pipe.counters().classified_giveup, 0u);
  EXPECT_EQ(h.classifier.live, 0);
}

// ---- flow ends ---------------------------------------------------------------------

TEST(Pipeline, FinBothWaysEndsAfterTheLinger) {
  Harness h;
  handshake(h, kT0);
  h.send(c2s(kTcpAck | kTcpPsh, 200), kT0 + 3000);
  h.send(c2s(kTcpFin | kTcpAck), kT0 + 4000);
  h.send(s2c(kTcpFin | kTcpAck), kT0 + 5000);
  const Timestamp last = kT0 + 6000;
  const StepResult r = h.send(c2s(kTcpAck), last);
  ASSERT_NE(r.flow, nullptr);
  const uint64_t id = r.flow->id;

  h.expireAt(last + 10 * kSecond - 1);
  EXPECT_TRUE(h.sink.ends().empty()) << "ended before the 10s closed linger";
  h.expireAt(last + 10 * kSecond);
  const auto ends = h.sink.ends();
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].flow_id, id);
  EXPECT_EQ(ends[0].reason, EndReason::Fin);
  EXPECT_EQ(ends[0].packets[0], 5u);
  EXPECT_EQ(ends[0].packets[1], 2u);
  EXPECT_EQ(h.pipe.table().size(), 0u);
  EXPECT_EQ(h.pipe.counters().flows_ended, 1u);
}

TEST(Pipeline, RstEndsAfterTheLinger) {
  Harness h;
  handshake(h, kT0);
  const StepResult r = h.send(s2c(kTcpRst), kT0 + 3000);
  ASSERT_NE(r.flow, nullptr);
  EXPECT_EQ(r.flow->tcp, TcpState::Closed);
  h.expireAt(kT0 + 3000 + 10 * kSecond - 1);
  EXPECT_TRUE(h.sink.ends().empty());
  h.expireAt(kT0 + 3000 + 10 * kSecond);
  ASSERT_EQ(h.sink.ends().size(), 1u);
  EXPECT_EQ(h.sink.ends()[0].reason, EndReason::Rst);
}

TEST(Pipeline, OneFinThenRstIsRst) {
  Harness h;
  handshake(h, kT0);
  h.send(c2s(kTcpFin | kTcpAck), kT0 + 3000);
  h.send(s2c(kTcpRst | kTcpAck), kT0 + 4000);
  h.expireAt(kT0 + 4000 + 10 * kSecond);
  ASSERT_EQ(h.sink.ends().size(), 1u);
  EXPECT_EQ(h.sink.ends()[0].reason, EndReason::Rst);
}

// A FIN that crossed the peer's RST on the wire must not reopen the connection.
TEST(Pipeline, FinAfterRstKeepsTheFlowClosed) {
  Harness h;
  handshake(h, kT0);
  const StepResult r = h.send(s2c(kTcpRst | kTcpAck), kT0 + 3000);
  ASSERT_NE(r.flow, nullptr);
  h.send(c2s(kTcpFin | kTcpAck), kT0 + 4000);
  EXPECT_EQ(r.flow->tcp, TcpState::Closed);
  h.expireAt(kT0 + 4000 + 10 * kSecond);
  ASSERT_EQ(h.sink.ends().size(), 1u) << "still lingering 10s after the RST";
  EXPECT_EQ(h.sink.ends()[0].reason, EndReason::Rst);
}

TEST(Pipeline, NewSynOnClosedTupleStartsANewFlow) {
  Harness h;
  handshake(h, kT0);
  h.send(c2s(kTcpFin | kTcpAck), kT0 + 3000);
  const StepResult last = h.send(s2c(kTcpFin | kTcpAck), kT0 + 4000);
  const uint64_t old_id = last.flow->id;
  // Port reuse within the linger.
  const StepResult syn = h.send(c2s(kTcpSyn), kT0 + 1 * kSecond);
  ASSERT_NE(syn.flow, nullptr);
  EXPECT_TRUE(syn.new_flow);
  EXPECT_NE(syn.flow->id, old_id);
  EXPECT_EQ(syn.flow->tcp, TcpState::SynSent);
  EXPECT_EQ(syn.flow->packets[0], 1u);
  EXPECT_EQ(syn.flow->packets[1], 0u);
  EXPECT_EQ(h.pipe.table().size(), 1u);
  const auto ends = h.sink.ends();
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].flow_id, old_id);
  EXPECT_EQ(ends[0].reason, EndReason::Fin);
}

TEST(Pipeline, SynRetransmissionOnAnOpenFlowIsTheSameFlow) {
  Harness h;
  const StepResult a = h.send(c2s(kTcpSyn), kT0);
  const StepResult b = h.send(c2s(kTcpSyn), kT0 + kSecond);
  EXPECT_EQ(a.flow, b.flow);
  EXPECT_FALSE(b.new_flow);
  EXPECT_EQ(b.flow->packets[0], 2u);
}

TEST(Pipeline, IdleFlowsExpireAsTheClockAdvances) {
  Harness h;
  const StepResult r = h.send(udpFrame(kClient, 1, kServer, 2), kT0);
  const uint64_t id = r.flow->id;
  h.expireAt(kT0 + 60 * kSecond - 1);
  EXPECT_TRUE(h.sink.ends().empty());
  h.expireAt(kT0 + 60 * kSecond);
  ASSERT_EQ(h.sink.ends().size(), 1u);
  EXPECT_EQ(h.sink.ends()[0].flow_id, id);
  EXPECT_EQ(h.sink.ends()[0].reason, EndReason::Idle);
  // The flow was never classified: it is given up on before it ends.
  EXPECT_EQ(h.classifier.giveups, (std::vector<uint64_t>{id}));
  ASSERT_EQ(h.sink.events.size(), 2u);
  EXPECT_EQ(h.sink.events[0].kind, RecordingSink::Kind::Classified);
  EXPECT_EQ(h.sink.events[1].kind, RecordingSink::Kind::End);
  EXPECT_EQ(h.classifier.live, 0);
  EXPECT_EQ(h.pipe.table().counters().expired, 1u);
}

TEST(Pipeline, StepRunsExpiryFromTheClock) {
  Harness h;
  const uint64_t old_id = h.send(udpFrame(kClient, 1, kServer, 2), kT0).flow->id;
  // A packet of another flow 61s later: the idle UDP flow is ended first.
  const StepResult r = h.send(udpFrame(kClient, 7, kServer, 8), kT0 + 61 * kSecond);
  ASSERT_EQ(h.sink.ends().size(), 1u);
  EXPECT_EQ(h.sink.ends()[0].flow_id, old_id);
  EXPECT_EQ(h.sink.ends()[0].reason, EndReason::Idle);
  EXPECT_EQ(h.pipe.table().size(), 1u);
  EXPECT_NE(r.flow->id, old_id);
}

TEST(Pipeline, ActiveFlowDoesNotExpire) {
  Harness h;
  for (int i = 0; i < 10; ++i) h.send(udpFrame(kClient, 1, kServer, 2), kT0 + i * 50 * kSecond);
  EXPECT_TRUE(h.sink.ends().empty());
  EXPECT_EQ(h.pipe.table().size(), 1u);
}

TEST(Pipeline, EvictionUnderTinyTableEmitsEvicted) {
  PipelineConfig cfg;
  cfg.table.max_flows = 2;
  Harness h(cfg, {.final_after = 0});
  const uint64_t a = h.send(udpFrame(kClient, 1, kServer, 2), kT0).flow->id;
  const uint64_t b = h.send(udpFrame(kClient, 3, kServer, 4), kT0 + 1).flow->id;
  h.send(udpFrame(kServer, 2, kClient, 1), kT0 + 2);  // a is now more recent than b
  const StepResult c = h.send(udpFrame(kClient, 5, kServer, 6), kT0 + 3);
  ASSERT_NE(c.flow, nullptr);
  EXPECT_TRUE(c.new_flow);
  const auto ends = h.sink.ends();
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].flow_id, b);
  EXPECT_EQ(ends[0].reason, EndReason::Evicted);
  EXPECT_EQ(h.pipe.table().size(), 2u);
  EXPECT_EQ(h.pipe.table().counters().evicted, 1u);
  EXPECT_EQ(h.pipe.counters().flows_ended, 1u);
  EXPECT_EQ(h.classifier.giveups, (std::vector<uint64_t>{b}));
  EXPECT_EQ(h.classifier.live, 2) << "a and c still inspecting; b's state freed";
  (void)a;
}

TEST(Pipeline, FinishEndsEverythingWithEndOfInput) {
  Harness h({}, {.final_after = 2});
  handshake(h, kT0);                                                  // classified at packet 2
  h.send(udpFrame(kClient, 1, kServer, 2), kT0 + 10);                 // still inspecting
  h.send(PacketBuilder().eth().ipv4().icmp().build(), kT0 + 20);      // still inspecting
  EXPECT_EQ(h.pipe.table().size(), 3u);
  EXPECT_EQ(h.classifier.live, 2);

  h.pipe.finish();
  EXPECT_EQ(h.pipe.table().size(), 0u);
  EXPECT_EQ(h.classifier.live, 0);
  const auto ends = h.sink.ends();
  ASSERT_EQ(ends.size(), 3u);
  for (const auto& e : ends) EXPECT_EQ(e.reason, EndReason::EndOfInput);
  EXPECT_EQ(h.sink.classified().size(), 3u);
  EXPECT_EQ(h.classifier.giveups.size(), 2u);
  EXPECT_EQ(h.pipe.counters().flows_ended, 3u);
  // Every flow was classified before it ended.
  std::map<uint64_t, int> order;
  for (size_t i = 0; i < h.sink.events.size(); ++i) {
    const auto& e = h.sink.events[i];
    if (e.kind == RecordingSink::Kind::Classified) order[e.flow_id] = 1;
    else EXPECT_EQ(order[e.flow_id], 1) << "flow " << e.flow_id << " ended unclassified";
  }
}

TEST(Pipeline, FinishWithCustomReason) {
  Harness h;
  h.send(udpFrame(kClient, 1, kServer, 2), kT0);
  h.pipe.finish(EndReason::Shutdown);
  ASSERT_EQ(h.sink.ends().size(), 1u);
  EXPECT_EQ(h.sink.ends()[0].reason, EndReason::Shutdown);
}

// ---- fragments -------------------------------------------------------------------------

Bytes firstFragment(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                    uint16_t id) {
  return PacketBuilder().eth().ipv4({.src = src, .dst = dst, .id = id, .more_fragments = true})
      .udp({.sport = sport, .dport = dport}).payload(Bytes(16, 'f')).build();  // ip_bytes 44
}
Bytes laterFragment(const char* src, const char* dst, uint16_t id, uint16_t offset, bool more) {
  return PacketBuilder().eth()
      .ipv4({.src = src, .dst = dst, .id = id, .proto = kProtoUdp, .frag_offset = offset,
             .more_fragments = more})
      .payload(Bytes(24, 'g')).build();  // ip_bytes 44
}

TEST(Pipeline, LaterFragmentsAreCountedToTheFirstFragmentsFlow) {
  Harness h;
  const StepResult first = h.send(firstFragment(kClient, 5000, kServer, 53, 77), kT0);
  ASSERT_NE(first.flow, nullptr);
  EXPECT_TRUE(first.new_flow);
  const StepResult mid = h.send(laterFragment(kClient, kServer, 77, 3, true), kT0 + 1);
  const StepResult last = h.send(laterFragment(kClient, kServer, 77, 6, false), kT0 + 2);
  EXPECT_EQ(mid.flow, first.flow);
  EXPECT_EQ(last.flow, first.flow);
  EXPECT_FALSE(mid.new_flow);
  EXPECT_EQ(first.flow->totalPackets(), 3u);
  EXPECT_EQ(first.flow->totalBytes(), 3u * 44);
  EXPECT_EQ(h.pipe.table().size(), 1u);
  EXPECT_EQ(h.pipe.counters().fragments, 3u);
  EXPECT_EQ(h.pipe.counters().fragments_unmatched, 0u);
  EXPECT_EQ(h.classifier.inspects.size(), 1u) << "later fragments carry no L4: not inspected";
}

TEST(Pipeline, LaterFragmentsKeepTheSendersDirection) {
  Harness h;
  const StepResult first = h.send(firstFragment(kClient, 5000, kServer, 53, 77), kT0);
  ASSERT_NE(first.flow, nullptr);
  const StepResult later = h.send(laterFragment(kClient, kServer, 77, 3, false), kT0 + 1);
  ASSERT_EQ(later.flow, first.flow);
  EXPECT_EQ(later.direction, Direction::SrcToDst) << "the client sent this fragment";
  EXPECT_EQ(first.flow->packets[0], 2u);
  EXPECT_EQ(first.flow->packets[1], 0u);
  EXPECT_EQ(first.flow->bytes[0], 88u);
  // And a fragmented reply goes the other way.
  h.send(firstFragment(kServer, 53, kClient, 5000, 900), kT0 + 2);
  const StepResult reply = h.send(laterFragment(kServer, kClient, 900, 3, false), kT0 + 3);
  ASSERT_EQ(reply.flow, first.flow);
  EXPECT_EQ(reply.direction, Direction::DstToSrc);
  EXPECT_EQ(first.flow->packets[1], 2u);
}

TEST(Pipeline, OrphanLaterFragmentCreatesNoFlow) {
  Harness h;
  const StepResult r = h.send(laterFragment(kClient, kServer, 99, 3, false), kT0);
  EXPECT_EQ(r.error, DecodeError::None);
  EXPECT_EQ(r.flow, nullptr);
  EXPECT_FALSE(r.new_flow);
  EXPECT_EQ(h.pipe.table().size(), 0u);
  EXPECT_EQ(h.pipe.counters().fragments, 1u);
  EXPECT_EQ(h.pipe.counters().fragments_unmatched, 1u);
  EXPECT_EQ(h.pipe.counters().packets, 1u);
  EXPECT_TRUE(h.sink.events.empty());
  EXPECT_TRUE(h.classifier.begins.empty());
}

TEST(Pipeline, FragmentsMatchOnIdAndAddresses) {
  Harness h;
  h.send(firstFragment(kClient, 5000, kServer, 53, 77), kT0);
  // Same id from another host, and another id between the same hosts.
  EXPECT_EQ(h.send(laterFragment("10.0.0.3", kServer, 77, 3, false), kT0 + 1).flow, nullptr);
  EXPECT_EQ(h.send(laterFragment(kClient, kServer, 78, 3, false), kT0 + 2).flow, nullptr);
  EXPECT_EQ(h.pipe.counters().fragments_unmatched, 2u);
  EXPECT_EQ(h.pipe.table().size(), 1u);
}

TEST(Pipeline, LaterFragmentOfAnEndedFlowIsUnmatched) {
  Harness h;
  h.send(firstFragment(kClient, 5000, kServer, 53, 77), kT0);
  h.pipe.finish();
  const StepResult r = h.send(laterFragment(kClient, kServer, 77, 3, false), kT0 + 1);
  EXPECT_EQ(r.flow, nullptr);
  EXPECT_EQ(h.pipe.counters().fragments_unmatched, 1u);
  EXPECT_EQ(h.pipe.table().size(), 0u);
}

// ---- decode errors -----------------------------------------------------------------------

struct ErrorCase {
  std::string name;
  Bytes frame;
  DecodeError error;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class PipelineDecodeErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(PipelineDecodeErrorTest, CountedByReasonAndNeverAFlow) {
  const ErrorCase& c = GetParam();
  Harness h;
  const StepResult r = h.send(c.frame, kT0);
  EXPECT_EQ(r.error, c.error);
  EXPECT_EQ(r.flow, nullptr);
  EXPECT_FALSE(r.new_flow);
  const PipelineCounters& k = h.pipe.counters();
  EXPECT_EQ(k.packets, 1u);
  EXPECT_EQ(k.decoded, 0u);
  EXPECT_EQ(k.bytes, c.frame.size());
  EXPECT_EQ(k.decode_errors.by_reason[static_cast<size_t>(c.error)], 1u);
  EXPECT_EQ(k.decode_errors.total(), 1u);
  EXPECT_EQ(h.pipe.table().size(), 0u);
  EXPECT_EQ(h.pipe.table().counters().created, 0u);
  EXPECT_TRUE(h.sink.events.empty());
  EXPECT_TRUE(h.classifier.begins.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, PipelineDecodeErrorTest,
    testing::Values(
        ErrorCase{.name = "Arp",
                  .frame = PacketBuilder().eth({.ethertype = 0x0806}).payload(Bytes(28, 0)).build(),
                  .error = DecodeError::NotIp},
        ErrorCase{.name = "ShortEthernet", .frame = Bytes(10, 0xff),
                  .error = DecodeError::TruncatedLink},
        ErrorCase{.name = "IhlBelowFive",
                  .frame = PacketBuilder().eth().ipv4({.ihl = 3}).udp().build(),
                  .error = DecodeError::BadIpHeader},
        ErrorCase{.name = "TcpDataOffsetBelowFive",
                  .frame = PacketBuilder().eth().ipv4().tcp({.data_offset = 2}).build(),
                  .error = DecodeError::BadL4Header},
        ErrorCase{.name = "TruncatedTcp",
                  .frame = PacketBuilder().eth().ipv4({.proto = kProtoTcp}).payload(Bytes(10, 0))
                               .build(),
                  .error = DecodeError::TruncatedL4},
        ErrorCase{.name = "Ipv6ExtensionPastEnd",
                  .frame = PacketBuilder().eth().ipv6({.ext = {{.type = 60, .len_field = 200}}})
                               .udp().build(),
                  .error = DecodeError::BadExtension}),
    [](const auto& info) { return info.param.name; });

TEST(Pipeline, DecodeErrorsAccumulatePerReason) {
  Harness h;
  const Bytes arp = PacketBuilder().eth({.ethertype = 0x0806}).payload(Bytes(28, 0)).build();
  const Bytes bad = PacketBuilder().eth().ipv4({.ihl = 2}).build();
  h.send(arp, kT0);
  h.send(arp, kT0 + 1);
  h.send(bad, kT0 + 2);
  h.send(udpFrame(kClient, 1, kServer, 2), kT0 + 3);
  const auto& e = h.pipe.counters().decode_errors;
  EXPECT_EQ(e.by_reason[static_cast<size_t>(DecodeError::NotIp)], 2u);
  EXPECT_EQ(e.by_reason[static_cast<size_t>(DecodeError::BadIpHeader)], 1u);
  EXPECT_EQ(e.total(), 3u);
  EXPECT_EQ(h.pipe.counters().packets, 4u);
  EXPECT_EQ(h.pipe.counters().decoded, 1u);
  EXPECT_EQ(h.pipe.table().size(), 1u);
}

}  // namespace
}  // namespace fg::core
