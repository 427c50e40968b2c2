#include "gateway/dissect/dissect.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/pipeline.h"
#include "gateway/dissect/dissecting_classifier.h"
#include "tests/gateway/packet_builder.h"

namespace fg::dissect {
namespace {

using test::Bytes;
using test::bytesOf;
using core::Direction;

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes be16(uint16_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
Bytes be32(uint32_t v) { return cat({be16(static_cast<uint16_t>(v >> 16)), be16(static_cast<uint16_t>(v))}); }
Bytes fill(size_t n, uint8_t b = 0) { return Bytes(n, b); }

PacketInfo udp(const Bytes& b, Direction dir = Direction::SrcToDst, uint16_t index = 0) {
  return {.payload = b, .dir = dir, .transport = Transport::Udp, .src_port = 40000, .dst_port = 3478,
          .payload_index = index};
}
PacketInfo tcp(const Bytes& b, Direction dir = Direction::SrcToDst, uint16_t index = 0) {
  PacketInfo p = udp(b, dir, index);
  p.transport = Transport::Tcp;
  return p;
}

// ---- STUN

Bytes stunAttr(uint16_t type, const Bytes& value) {
  Bytes v = value;
  while (v.size() % 4) v.push_back(0);
  return cat({be16(type), be16(static_cast<uint16_t>(value.size())), v});
}
Bytes stun(uint16_t type, const Bytes& attrs) {
  return cat({be16(type), be16(static_cast<uint16_t>(attrs.size())), be32(0x2112a442), fill(12, 7), attrs});
}

TEST(Stun, BindingRequestIsTentativeStun) {
  Answer a;
  EXPECT_EQ(dissectStun(udp(stun(0x0001, {})), a), Outcome::NeedMore);
  EXPECT_EQ(a.l7_protocol, "STUN");
  EXPECT_EQ(a.application, "STUN");
}

TEST(Stun, RealmNamesTheVoiceService) {
  Answer a;
  const Bytes m = stun(0x0113, cat({stunAttr(0x0009, fill(4)), stunAttr(0x0014, bytesOf("telegram.org"))}));
  EXPECT_EQ(dissectStun(udp(m, Direction::DstToSrc, 1), a), Outcome::Match);
  EXPECT_EQ(a.application, "TelegramVoip");
  EXPECT_EQ(a.category, "VoIP");
  EXPECT_EQ(a.hostname, "telegram.org");
  // A subdomain of a known realm counts; a look-alike does not.
  Answer b;
  EXPECT_EQ(dissectStun(udp(stun(0x0003, stunAttr(0x0014, bytesOf("relay.signal.org")))), b), Outcome::Match);
  EXPECT_EQ(b.application, "SignalVoip");
  Answer c;
  EXPECT_EQ(dissectStun(udp(stun(0x0003, stunAttr(0x0014, bytesOf("notsignal.org")))), c), Outcome::NeedMore);
  EXPECT_EQ(c.application, "STUN");
  EXPECT_EQ(c.hostname, "notsignal.org");  // the realm is still the relay's name
}

TEST(Stun, MicrosoftAttributesMeanTeams) {
  Answer a;
  const Bytes m = stun(0x0003, cat({stunAttr(0x000f, fill(4)), stunAttr(0x8008, be32(6))}));
  EXPECT_EQ(dissectStun(udp(m), a), Outcome::Match);
  EXPECT_EQ(a.application, "Skype_TeamsCall");
}

TEST(Stun, OverTcpWithLengthPrefix) {
  Answer a;
  const Bytes m = stun(0x0001, stunAttr(0x8070, be32(7)));
  EXPECT_EQ(dissectStun(tcp(cat({be16(static_cast<uint16_t>(m.size())), m})), a), Outcome::Match);
}

TEST(Stun, RejectsWhatIsNotStun) {
  Answer a;
  Bytes m = stun(0x0001, {});
  m[4] = 0;  // no magic cookie
  EXPECT_EQ(dissectStun(udp(m), a), Outcome::NoMatch);
  Bytes odd = stun(0x0001, stunAttr(0x0014, bytesOf("x")));
  odd[3] = 3;  // length not a multiple of 4
  EXPECT_EQ(dissectStun(udp(odd), a), Outcome::NoMatch);
  const Bytes whole = stun(0x0001, stunAttr(0x0006, fill(8)));
  const Bytes truncated(whole.begin(), whole.begin() + 24);
  EXPECT_EQ(dissectStun(udp(truncated), a), Outcome::NoMatch);
  EXPECT_EQ(dissectStun(udp(Bytes{}), a), Outcome::NoMatch);
}

// ---- Source engine

TEST(SourceEngine, InfoQueryAndAnswers) {
  Answer a;
  const Bytes query = cat({be32(0xffffffff), bytesOf("TSource Engine Query"), fill(1)});
  EXPECT_EQ(dissectSourceEngine(udp(query), a), Outcome::Match);
  EXPECT_EQ(a.l7_protocol, "Source_Engine");
  EXPECT_EQ(a.category, "Game");
  EXPECT_EQ(dissectSourceEngine(udp(cat({be32(0xffffffff), bytesOf("U"), be32(0xffffffff)})), a), Outcome::Match);
  const Bytes info = cat({be32(0xffffffff), bytesOf("I"), Bytes{0x11}, bytesOf("my server"), fill(4)});
  EXPECT_EQ(dissectSourceEngine(udp(info, Direction::DstToSrc), a), Outcome::Match);
}

TEST(SourceEngine, RejectsOtherHeaders) {
  Answer a;
  EXPECT_EQ(dissectSourceEngine(udp(cat({be32(0xffffffff), bytesOf("TSource Engine Quer")})), a), Outcome::NoMatch);
  EXPECT_EQ(dissectSourceEngine(udp(cat({be32(0xfffffffe), bytesOf("TSource Engine Query"), fill(1)})), a), Outcome::NoMatch);
  EXPECT_EQ(dissectSourceEngine(udp(cat({be32(0xffffffff), bytesOf("U")})), a), Outcome::NoMatch);  // no challenge
  // An answer type sent by the client is not an answer.
  EXPECT_EQ(dissectSourceEngine(udp(cat({be32(0xffffffff), bytesOf("A"), be32(1)})), a), Outcome::NoMatch);
  EXPECT_EQ(dissectSourceEngine(tcp(cat({be32(0xffffffff), bytesOf("TSource Engine Query"), fill(1)})), a), Outcome::NoMatch);
}

// ---- WhatsApp

TEST(WhatsApp, PrologueAndEdgePreamble) {
  Answer a;
  EXPECT_EQ(dissectWhatsApp(tcp(cat({bytesOf("WA"), Bytes{5, 2}, fill(20, 9)})), a), Outcome::Match);
  EXPECT_EQ(a.application, "WhatsApp");
  EXPECT_EQ(a.category, "Chat");
  EXPECT_EQ(dissectWhatsApp(tcp(Bytes{'E', 'D', 0, 1}), a), Outcome::Match);
}

TEST(WhatsApp, OnlyTheClientsFirstPayload) {
  Answer a;
  const Bytes hello = cat({bytesOf("WA"), Bytes{5, 2}});
  EXPECT_EQ(dissectWhatsApp(tcp(hello, Direction::DstToSrc), a), Outcome::NoMatch);
  EXPECT_EQ(dissectWhatsApp(tcp(hello, Direction::SrcToDst, 1), a), Outcome::NoMatch);
  EXPECT_EQ(dissectWhatsApp(udp(hello), a), Outcome::NoMatch);
  EXPECT_EQ(dissectWhatsApp(tcp(bytesOf("WAIT")), a), Outcome::NoMatch);
}

// ---- OpenVPN

Bytes ovpn(uint8_t opcode, uint64_t session, const Bytes& rest) {
  Bytes b{static_cast<uint8_t>(opcode << 3)};
  for (int i = 7; i >= 0; --i) b.push_back(static_cast<uint8_t>(session >> (8 * i)));
  return cat({b, rest});
}

TEST(OpenVpn, ClientResetThenServerAcknowledges) {
  FlowState st;
  st.first_dir = 1;
  Answer a;
  const uint64_t client = 0x1122334455667788ull, server = 0x99aabbccddeeff00ull;
  EXPECT_EQ(dissectOpenVpn(udp(ovpn(7, client, fill(5))), st, a), Outcome::NeedMore);
  const Bytes reply = ovpn(8, server, cat({Bytes{1}, be32(0), ovpn(0, client, {}), be32(0)}));
  EXPECT_EQ(dissectOpenVpn(udp(reply, Direction::DstToSrc, 1), st, a), Outcome::Match);
  EXPECT_EQ(a.l7_protocol, "OpenVPN");
}

TEST(OpenVpn, OverTcpAndFromOneSide) {
  FlowState st;
  st.first_dir = 1;
  Answer a;
  const uint64_t s = 0x0102030405060708ull;
  auto framed = [](const Bytes& m) { return cat({be16(static_cast<uint16_t>(m.size())), m}); };
  EXPECT_EQ(dissectOpenVpn(tcp(framed(ovpn(7, s, fill(5)))), st, a), Outcome::NeedMore);
  EXPECT_EQ(dissectOpenVpn(tcp(framed(ovpn(4, s, fill(9))), Direction::SrcToDst, 1), st, a), Outcome::Match);
}

TEST(OpenVpn, RejectsUnrelatedAnswers) {
  FlowState st;
  st.first_dir = 1;
  Answer a;
  EXPECT_EQ(dissectOpenVpn(udp(ovpn(7, 42, fill(5))), st, a), Outcome::NeedMore);
  EXPECT_EQ(dissectOpenVpn(udp(ovpn(8, 43, fill(20)), Direction::DstToSrc, 1), st, a), Outcome::NoMatch);
  FlowState st2;
  EXPECT_EQ(dissectOpenVpn(udp(ovpn(4, 42, fill(5))), st2, a), Outcome::NoMatch);  // no reset first
  Bytes key1 = ovpn(7, 42, fill(5));
  key1[0] |= 1;  // key id 1 cannot open a session
  EXPECT_EQ(dissectOpenVpn(udp(key1), st2, a), Outcome::NoMatch);
}

// ---- RakNet

TEST(RakNet, OfflineMessageMagic) {
  const Bytes magic{0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56, 0x78};
  Answer a;
  EXPECT_EQ(dissectRakNet(udp(cat({Bytes{0x05}, magic, Bytes{10}, fill(100)})), a), Outcome::Match);
  EXPECT_EQ(a.category, "Game");
  EXPECT_EQ(dissectRakNet(udp(cat({fill(20, 1), Bytes{0x7b}, magic})), a), Outcome::Match);  // a game's own prefix
  EXPECT_EQ(dissectRakNet(udp(cat({fill(70, 1), magic})), a), Outcome::NoMatch);  // too deep
  Bytes almost = cat({Bytes{0x05}, magic});
  almost[16] = 0x79;
  EXPECT_EQ(dissectRakNet(udp(almost), a), Outcome::NoMatch);
}

// ---- uTP

Bytes utp(uint8_t type_version, uint16_t connection) {
  return cat({Bytes{type_version, 0}, be16(connection), fill(16, 3)});
}

TEST(Utp, SynAnsweredByStateWithTheSameConnection) {
  FlowState st;
  st.first_dir = 1;
  Answer a;
  EXPECT_EQ(dissectUtp(udp(utp(0x41, 0x4567)), st, a), Outcome::NeedMore);
  EXPECT_EQ(dissectUtp(udp(utp(0x21, 0x4567), Direction::DstToSrc, 1), st, a), Outcome::Match);
  EXPECT_EQ(a.l7_protocol, "BitTorrent");
  FlowState other;
  other.first_dir = 1;
  EXPECT_EQ(dissectUtp(udp(utp(0x41, 0x4567)), other, a), Outcome::NeedMore);
  EXPECT_EQ(dissectUtp(udp(utp(0x21, 0x4568), Direction::DstToSrc, 1), other, a), Outcome::NoMatch);
  FlowState data;
  EXPECT_EQ(dissectUtp(udp(utp(0x01, 1)), data, a), Outcome::NoMatch);  // no SYN first
}

// ---- Discord IP discovery

TEST(Discord, IpDiscoveryRequestAndResponse) {
  Answer a;
  EXPECT_EQ(dissectDiscordIpDiscovery(udp(cat({be16(1), be16(70), be32(0x1a7e73), fill(66)})), a), Outcome::Match);
  EXPECT_EQ(a.application, "Discord");
  EXPECT_EQ(dissectDiscordIpDiscovery(udp(cat({be16(2), be16(70), be32(1), bytesOf("85.154.2.145"), fill(54)})), a),
            Outcome::Match);
  EXPECT_EQ(dissectDiscordIpDiscovery(udp(cat({be16(1), be16(70), be32(1), fill(60)})), a), Outcome::NoMatch);
  EXPECT_EQ(dissectDiscordIpDiscovery(udp(cat({be16(3), be16(70), be32(1), fill(66)})), a), Outcome::NoMatch);
}

// ---- RTP

Bytes rtp(uint8_t pt, uint16_t seq, uint32_t ssrc) {
  return cat({Bytes{0x80, pt}, be16(seq), be32(seq * 160u), be32(ssrc), fill(160, 0xd5)});
}

TEST(Rtp, TwoPacketsOfOneStream) {
  FlowState st;
  st.first_dir = 1;
  Answer a;
  EXPECT_EQ(dissectRtp(udp(rtp(8, 100, 0xc0ffee)), st, a), Outcome::NeedMore);
  EXPECT_EQ(dissectRtp(udp(rtp(8, 101, 0xc0ffee), Direction::SrcToDst, 1), st, a), Outcome::Match);
  EXPECT_EQ(a.l7_protocol, "RTP");
  EXPECT_EQ(a.category, "Media");
}

TEST(Rtp, OverTcpFramed) {
  FlowState st;
  st.first_dir = 1;
  Answer a;
  auto framed = [](const Bytes& m) { return cat({be16(static_cast<uint16_t>(m.size())), m}); };
  EXPECT_EQ(dissectRtp(tcp(framed(rtp(0, 7, 9))), st, a), Outcome::NeedMore);
  EXPECT_EQ(dissectRtp(tcp(framed(rtp(0, 8, 9)), Direction::SrcToDst, 1), st, a), Outcome::Match);
}

TEST(Rtp, RejectsAnotherStreamOrPayloadType) {
  Answer a;
  FlowState st;
  st.first_dir = 1;
  EXPECT_EQ(dissectRtp(udp(rtp(8, 100, 1)), st, a), Outcome::NeedMore);
  EXPECT_EQ(dissectRtp(udp(rtp(8, 101, 2), Direction::SrcToDst, 1), st, a), Outcome::NoMatch);
  FlowState back;
  back.first_dir = 1;
  EXPECT_EQ(dissectRtp(udp(rtp(8, 100, 1)), back, a), Outcome::NeedMore);
  EXPECT_EQ(dissectRtp(udp(rtp(8, 99, 1), Direction::SrcToDst, 1), back, a), Outcome::NoMatch);  // went back
  FlowState rtcp;
  EXPECT_EQ(dissectRtp(udp(rtp(72, 1, 1)), rtcp, a), Outcome::NoMatch);  // 200 = RTCP sender report
}

// ---- Tailscale, DTLS, SoftEther, DNSCrypt

TEST(Tailscale, DiscoMagic) {
  Answer a;
  EXPECT_EQ(dissectTailscale(udp(cat({bytesOf("TS\xf0\x9f\x92\xac"), fill(80, 2)})), a), Outcome::Match);
  EXPECT_EQ(a.category, "VPN");
  EXPECT_EQ(dissectTailscale(udp(cat({bytesOf("TS\xf0\x9f\x92\xad"), fill(80, 2)})), a), Outcome::NoMatch);
}

TEST(Dtls, HandshakeRecordOfAnyDtlsVersion) {
  auto record = [](uint16_t version, uint8_t hs) {
    return cat({Bytes{22}, be16(version), be16(0), fill(6), be16(20), Bytes{hs}, fill(19)});
  };
  Answer a;
  EXPECT_EQ(dissectDtls(udp(record(0x0100, 1)), a), Outcome::Match);
  EXPECT_EQ(a.l7_protocol, "DTLS");
  EXPECT_EQ(dissectDtls(udp(record(0xfefd, 3)), a), Outcome::Match);
  EXPECT_EQ(dissectDtls(udp(record(0x0303, 1)), a), Outcome::NoMatch);  // TLS, not DTLS
  EXPECT_EQ(dissectDtls(udp(record(0xfefd, 11)), a), Outcome::NoMatch);
  Bytes long_record = record(0xfefd, 1);
  long_record[12] = 200;  // longer than the datagram
  EXPECT_EQ(dissectDtls(udp(long_record), a), Outcome::NoMatch);
}

TEST(Softether, NatTraversalAnswerAndPack) {
  Answer a;
  EXPECT_EQ(dissectSoftether(udp(Bytes{0x41}), a), Outcome::NeedMore);
  EXPECT_EQ(dissectSoftether(udp(bytesOf("IP=192.0.2.7,PORT=51381"), Direction::DstToSrc, 1), a), Outcome::Match);
  EXPECT_EQ(a.application, "Softether");
  const Bytes pack = cat({be32(3), be32(7), bytesOf("opcode"), be32(2), be32(1), be32(9), bytesOf("get_token")});
  EXPECT_EQ(dissectSoftether(udp(pack), a), Outcome::Match);
  const Bytes upper = cat({be32(3), be32(7), bytesOf("OPCODE"), be32(2), be32(1), be32(9), bytesOf("get_token")});
  EXPECT_EQ(dissectSoftether(udp(upper), a), Outcome::NoMatch);
  EXPECT_EQ(dissectSoftether(udp(bytesOf("IP=192.0.2.7"), Direction::DstToSrc, 1), a), Outcome::NoMatch);
}

TEST(DnsCrypt, PaddedQueryThenResolverMagic) {
  Answer a;
  EXPECT_EQ(dissectDnsCrypt(udp(fill(1088, 0x5a)), a), Outcome::NeedMore);
  EXPECT_EQ(dissectDnsCrypt(udp(fill(1000, 0x5a)), a), Outcome::NoMatch);  // not padded to 64
  EXPECT_EQ(dissectDnsCrypt(udp(cat({bytesOf("r6fnvWj8"), fill(100)}), Direction::DstToSrc, 1), a), Outcome::Match);
  EXPECT_EQ(a.l7_protocol, "DNScrypt");
  EXPECT_EQ(dissectDnsCrypt(udp(cat({bytesOf("r6fnvWj9"), fill(100)}), Direction::DstToSrc, 1), a), Outcome::NoMatch);
}

TEST(Http2, PriorKnowledgePreface) {
  Answer a;
  EXPECT_EQ(dissectHttp2(tcp(cat({bytesOf("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Bytes{0, 0, 18, 4}})), a), Outcome::Match);
  EXPECT_EQ(a.l7_protocol, "HTTP2");
  EXPECT_EQ(dissectHttp2(tcp(bytesOf("PRI * HTTP/2.0\r\n\r\n")), a), Outcome::NoMatch);  // cut short
  EXPECT_EQ(dissectHttp2(tcp(bytesOf("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Direction::DstToSrc), a), Outcome::NoMatch);
}

TEST(Names, PoliciesMayNameWhatTheDissectorsReport) {
  policy::NameCatalog base;
  base.protocols = {"TLS", "source_engine"};
  base.categories = {"Web"};
  const policy::NameCatalog n = withDissectorNames(base);
  auto has = [](const std::vector<std::string>& v, std::string_view s) {
    return std::count(v.begin(), v.end(), std::string(s));
  };
  EXPECT_EQ(has(n.protocols, "TLS"), 1);
  EXPECT_EQ(has(n.protocols, "source_engine"), 1);  // already there in another case
  EXPECT_EQ(has(n.protocols, "Source_Engine"), 0);
  EXPECT_EQ(has(n.protocols, "TelegramVoip"), 1);
  EXPECT_EQ(has(n.protocols, "Skype_TeamsCall"), 1);
  EXPECT_EQ(has(n.categories, "Web"), 1);
  EXPECT_EQ(has(n.categories, "VoIP"), 1);
}

// ---- The dispatcher

TEST(Dissect, ExcludesEveryDissectorOnAPlainPayload) {
  FlowState st;
  Answer a;
  const Bytes http = bytesOf("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(dissect(tcp(http), st, a), Outcome::NoMatch);
  EXPECT_TRUE(st.allExcluded());
  EXPECT_EQ(st.payloads, 1);
}

TEST(Dissect, TentativeAnswerThenMatch) {
  FlowState st;
  Answer a;
  Id who = Id::Count;
  EXPECT_EQ(dissect(udp(stun(0x0001, {})), st, a, &who), Outcome::NeedMore);
  EXPECT_EQ(a.l7_protocol, "STUN");
  Answer b;
  EXPECT_EQ(dissect(udp(stun(0x0113, stunAttr(0x0014, bytesOf("signal.org"))), Direction::DstToSrc, 1), st, b, &who),
            Outcome::Match);
  EXPECT_EQ(b.application, "SignalVoip");
  EXPECT_EQ(who, Id::Stun);
}

// ---- DissectingClassifier: precedence, through a real Pipeline.

// An inner classifier that answers with a fixed label after `final_after`
// packets (0: never final), like nDPI would.
class FixedClassifier final : public core::Classifier {
 public:
  struct Label {
    std::string master{}, app{}, category{};
    core::Confidence confidence = core::Confidence::Dpi;
    uint16_t final_after = 1;
  };
  explicit FixedClassifier(Label l) : l_(std::move(l)) {}
  std::unique_ptr<core::FlowInspection> begin(const core::Flow&) override {
    return std::make_unique<core::FlowInspection>();
  }
  bool inspect(core::Flow& flow, const core::Packet&, Direction) override {
    ++seen;
    set(flow);
    return l_.final_after && seen >= l_.final_after;
  }
  void giveUp(core::Flow& flow) override { set(flow); }
  bool matchHostname(std::string_view host, core::Classification& out) override {
    if (host != "meet.example.com") return false;
    out.application = "ExampleMeet";
    out.category = "Video";
    return true;
  }
  int seen = 0;

 private:
  void set(core::Flow& flow) const {
    flow.cls.l7_protocol = l_.master;
    flow.cls.application = l_.app;
    flow.cls.category = l_.category;
    flow.cls.confidence = l_.confidence;
  }
  Label l_;
};

class Recorder final : public core::FlowEventSink {
 public:
  void onClassified(const core::Flow& flow) override {
    cls = flow.cls;
    packets_at_final = flow.dpi_packets;
  }
  void onFlowEnd(const core::Flow&, core::EndReason) override {}
  std::optional<core::Classification> cls;
  uint16_t packets_at_final = 0;
};

struct FlowRun {
  std::optional<core::Classification> cls;
  uint16_t packets_at_final = 0;
  uint64_t answers = 0;
};

// One UDP flow: (direction, payload) per packet.
FlowRun runFlow(FixedClassifier::Label inner, const std::vector<std::pair<Direction, Bytes>>& packets,
            bool over_tcp = false) {
  DissectingClassifier c(std::make_unique<FixedClassifier>(std::move(inner)));
  core::ManualClock clock;
  Recorder rec;
  core::Pipeline pipeline(core::PipelineConfig{}, c, clock, rec);
  core::Timestamp ts = 1000 * core::kSecond;
  for (const auto& [dir, payload] : packets) {
    const bool up = dir == Direction::SrcToDst;
    test::PacketBuilder b;
    b.ipv4({.src = up ? "10.0.0.1" : "10.0.0.2", .dst = up ? "10.0.0.2" : "10.0.0.1"});
    if (over_tcp)
      b.tcp({.sport = static_cast<uint16_t>(up ? 40000 : 5222), .dport = static_cast<uint16_t>(up ? 5222 : 40000),
             .flags = core::kTcpAck | core::kTcpPsh});
    else
      b.udp({.sport = static_cast<uint16_t>(up ? 40000 : 27015), .dport = static_cast<uint16_t>(up ? 27015 : 40000)});
    const Bytes frame = b.payload(payload).build();
    clock.advanceTo(ts += core::kSecond / 100);
    pipeline.step(core::LinkType::Raw, frame, ts);
  }
  pipeline.finish();
  FlowRun r{rec.cls, rec.packets_at_final, 0};
  for (size_t i = 0; i < static_cast<size_t>(Id::Count); ++i) r.answers += c.answers()[i];
  return r;
}

const Bytes kA2sInfo = cat({be32(0xffffffff), bytesOf("TSource Engine Query"), fill(1)});

TEST(DissectingClassifier, AnswersWhereTheInnerKnowsNothing) {
  const FlowRun r = runFlow({.master = "Unknown", .app = "Unknown", .confidence = core::Confidence::Unknown,
                         .final_after = 0},
                        {{Direction::SrcToDst, kA2sInfo}});
  ASSERT_TRUE(r.cls);
  EXPECT_EQ(r.cls->l7_protocol, "Source_Engine");
  EXPECT_EQ(r.cls->application, "Source_Engine");
  EXPECT_EQ(r.cls->category, "Game");
  EXPECT_EQ(r.cls->confidence, core::Confidence::Dpi);
  EXPECT_EQ(r.cls->app_source, core::AppSource::Dissector);
  EXPECT_EQ(r.packets_at_final, 1);  // final at once: nothing left for the inner to find
  EXPECT_EQ(r.answers, 1u);
}

TEST(DissectingClassifier, BeatsAPortGuess) {
  const FlowRun r = runFlow({.master = "TargusDataspeed", .app = "TargusDataspeed",
                         .confidence = core::Confidence::Guessed, .final_after = 0},
                        {{Direction::SrcToDst, kA2sInfo}});
  ASSERT_TRUE(r.cls);
  EXPECT_EQ(r.cls->l7_protocol, "Source_Engine");
}

TEST(DissectingClassifier, ASpecificInnerAnswerStays) {
  const FlowRun r = runFlow({.master = "TLS", .app = "NetFlix", .category = "Video"}, {{Direction::SrcToDst, kA2sInfo}});
  ASSERT_TRUE(r.cls);
  EXPECT_EQ(r.cls->application, "NetFlix");
  EXPECT_EQ(r.cls->app_source, core::AppSource::Ndpi);
  EXPECT_EQ(r.answers, 0u);
  const FlowRun g = runFlow({.master = "Steam", .app = "Steam"}, {{Direction::SrcToDst, kA2sInfo}});
  EXPECT_EQ(g.cls->l7_protocol, "Steam");
}

TEST(DissectingClassifier, RefinesTheApplicationInsideTheSameProtocol) {
  // nDPI 4.2 names the address's owner as a STUN flow's application; the
  // realm in the messages names the service.
  const Bytes realm = stun(0x0113, stunAttr(0x0014, bytesOf("telegram.org")));
  const FlowRun r = runFlow({.master = "STUN", .app = "AmazonAWS", .category = "Cloud"},
                        {{Direction::SrcToDst, stun(0x0003, {})}, {Direction::DstToSrc, realm}});
  ASSERT_TRUE(r.cls);
  EXPECT_EQ(r.cls->l7_protocol, "STUN");
  EXPECT_EQ(r.cls->application, "TelegramVoip");
  EXPECT_EQ(r.cls->hostname, "telegram.org");
  EXPECT_EQ(r.packets_at_final, 2);  // the inner was final at 1: the STUN dissector kept it open
}

TEST(DissectingClassifier, TentativeAnswerOnlyWhereTheInnerKnowsNothing) {
  const std::vector<std::pair<Direction, Bytes>> binding{{Direction::SrcToDst, stun(0x0001, {})},
                                                         {Direction::DstToSrc, stun(0x0101, {})}};
  const FlowRun unknown = runFlow({.master = "Unknown", .app = "Unknown", .confidence = core::Confidence::Unknown,
                               .final_after = 0},
                              binding);
  EXPECT_EQ(unknown.cls->l7_protocol, "STUN");
  const FlowRun owner = runFlow({.master = "STUN", .app = "AmazonAWS"}, binding);
  EXPECT_EQ(owner.cls->application, "AmazonAWS");  // the catalog's business, not a dissector's
}

TEST(DissectingClassifier, GenericInnerAnswerGivesWay) {
  const FlowRun r = runFlow({.master = "WhatsApp", .app = "WhatsApp", .confidence = core::Confidence::Guessed},
                        {{Direction::SrcToDst, cat({bytesOf("WA"), Bytes{5, 2}})}}, true);
  EXPECT_EQ(r.cls->l7_protocol, "WhatsApp");
  const FlowRun d = runFlow({.master = "MDNS", .app = "MDNS", .category = "Network"},
                        {{Direction::SrcToDst, fill(1088, 0x5a)},
                         {Direction::DstToSrc, cat({bytesOf("r6fnvWj8"), fill(100)})}});
  EXPECT_EQ(d.cls->l7_protocol, "DNScrypt");
}

TEST(DissectingClassifier, StopsDissectingWhenNothingMatches) {
  FixedClassifier::Label unknown{.master = "Unknown", .app = "Unknown", .confidence = core::Confidence::Unknown,
                                 .final_after = 1};
  const FlowRun r = runFlow(unknown, {{Direction::SrcToDst, bytesOf("hello there, nothing to see")},
                                  {Direction::DstToSrc, bytesOf("bye")}});
  EXPECT_EQ(r.cls->l7_protocol, "Unknown");
  EXPECT_EQ(r.packets_at_final, 1);  // every dissector excluded the flow at once
}

}  // namespace
}  // namespace fg::dissect
