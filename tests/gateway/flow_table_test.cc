// FlowKey and FlowTable: keys, timeouts, expiry, LRU eviction. Time is passed
// explicitly (the table never reads a clock).
#include "gateway/core/flow_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gateway/core/flow.h"
#include "gateway/core/packet.h"

namespace fg::core {
namespace {

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

struct Endpoints {
  std::string src, dst;
  uint16_t sport = 0, dport = 0;
  uint8_t proto = kProtoTcp;
  uint16_t vlan = 0;
};

Packet packetOf(const Endpoints& e) {
  Packet p;
  p.src = ip(e.src.c_str());
  p.dst = ip(e.dst.c_str());
  p.src_port = e.sport;
  p.dst_port = e.dport;
  p.proto = e.proto;
  p.ip_version = p.src.version;
  p.vlan = e.vlan;
  return p;
}

Packet reversed(Packet p) {
  std::swap(p.src, p.dst);
  std::swap(p.src_port, p.dst_port);
  return p;
}

FlowKey keyOf(const Endpoints& e) { return FlowKey::fromPacket(packetOf(e)); }

// ---- FlowKey -------------------------------------------------------------------

TEST(FlowKey, BothDirectionsShareKeyAndHash) {
  const Endpoints cases[] = {
      {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 40000, .dport = 443},
      {.src = "10.0.0.2", .dst = "10.0.0.1", .sport = 40000, .dport = 443},
      {.src = "192.168.1.1", .dst = "8.8.8.8", .sport = 53, .dport = 53, .proto = kProtoUdp},
      {.src = "2001:db8::1", .dst = "2001:db8::2", .sport = 1, .dport = 65535, .proto = kProtoUdp},
      {.src = "2001:db8::ff", .dst = "2001:db8::2", .sport = 9, .dport = 9, .proto = kProtoSctp},
      {.src = "10.0.0.1", .dst = "10.0.0.9", .proto = kProtoIcmp},
      // Same address on both sides (hairpin): the ports decide the order.
      {.src = "10.0.0.1", .dst = "10.0.0.1", .sport = 2000, .dport = 1000},
      {.src = "10.0.0.1", .dst = "10.0.0.1", .sport = 1000, .dport = 2000},
      {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 80, .dport = 80, .vlan = 7},
  };
  for (const Endpoints& e : cases) {
    SCOPED_TRACE(e.src + ":" + std::to_string(e.sport) + " -> " + e.dst + ":" +
                 std::to_string(e.dport));
    const Packet fwd = packetOf(e);
    const FlowKey a = FlowKey::fromPacket(fwd);
    const FlowKey b = FlowKey::fromPacket(reversed(fwd));
    EXPECT_EQ(a, b);
    EXPECT_EQ(FlowKeyHash{}(a), FlowKeyHash{}(b));
    EXPECT_EQ(a.proto, e.proto);
    EXPECT_EQ(a.vlan, e.vlan);
    // Normalised: (a, a_port) <= (b, b_port).
    EXPECT_TRUE(a.a < a.b || (a.a == a.b && a.a_port <= a.b_port));
    // Both endpoints survive normalisation.
    const bool kept = (a.a == fwd.src && a.a_port == fwd.src_port && a.b == fwd.dst &&
                       a.b_port == fwd.dst_port) ||
                      (a.a == fwd.dst && a.a_port == fwd.dst_port && a.b == fwd.src &&
                       a.b_port == fwd.src_port);
    EXPECT_TRUE(kept);
  }
}

TEST(FlowKey, EveryFieldDistinguishesFlows) {
  const Endpoints base{.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 1000, .dport = 80};
  const FlowKey k = keyOf(base);
  std::vector<Endpoints> others;
  Endpoints e = base;
  e.src = "10.0.0.3";
  others.push_back(e);
  e = base;
  e.dst = "10.0.0.3";
  others.push_back(e);
  e = base;
  e.sport = 1001;
  others.push_back(e);
  e = base;
  e.dport = 81;
  others.push_back(e);
  e = base;
  e.proto = kProtoUdp;
  others.push_back(e);
  e = base;
  e.vlan = 1;
  others.push_back(e);
  e = base;  // ports swapped between the same two hosts is another conversation
  e.sport = 80;
  e.dport = 1000;
  others.push_back(e);
  for (const Endpoints& o : others) {
    const FlowKey ok = keyOf(o);
    EXPECT_NE(ok, k) << o.src << ":" << o.sport << " " << o.dst << ":" << o.dport;
    EXPECT_NE(FlowKeyHash{}(ok), FlowKeyHash{}(k));
  }
}

TEST(FlowKey, Ipv4AndMappedIpv6AreDifferentFlows) {
  const FlowKey v4 = keyOf({.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 1, .dport = 2});
  const FlowKey v6 =
      keyOf({.src = "::ffff:10.0.0.1", .dst = "::ffff:10.0.0.2", .sport = 1, .dport = 2});
  EXPECT_NE(v4, v6);
}

// ---- FlowTable ---------------------------------------------------------------

constexpr Timestamp kMs = 1000;

FlowTableConfig smallConfig(size_t max_flows = 100) {
  return FlowTableConfig{
      .max_flows = max_flows,
      .timeouts = {.tcp_opening = 3 * kSecond,
                   .tcp_established = 50 * kSecond,
                   .tcp_closed = 1 * kSecond,
                   .udp = 7 * kSecond,
                   .other = 5 * kSecond},
  };
}

struct Ended {
  uint64_t id;
  EndReason reason;
};

// Collects what the table hands to its on_end callbacks.
struct EndLog {
  std::vector<Ended> ended;
  auto callback() {
    return [this](Flow& f, EndReason r) { ended.push_back({f.id, r}); };
  }
  std::vector<uint64_t> ids() const {
    std::vector<uint64_t> v;
    for (const auto& e : ended) v.push_back(e.id);
    return v;
  }
};

// Creates a flow the way the pipeline does: create, fill in, touch.
Flow& addFlow(FlowTable& t, const Endpoints& e, Timestamp now, EndLog& log,
              TcpState tcp = TcpState::None, uint64_t packets = 1) {
  Flow& f = t.create(keyOf(e), now, log.callback());
  f.proto = e.proto;
  f.src = ip(e.src.c_str());
  f.dst = ip(e.dst.c_str());
  f.src_port = e.sport;
  f.dst_port = e.dport;
  f.tcp = tcp;
  f.packets[0] = packets;
  t.touch(f, now);
  return f;
}

Endpoints udpFlow(int n) {
  return {.src = "10.0.0.1", .dst = "10.0.1.1", .sport = static_cast<uint16_t>(1000 + n),
          .dport = 53, .proto = kProtoUdp};
}
Endpoints tcpFlow(int n) {
  return {.src = "10.0.0.1", .dst = "10.0.2.1", .sport = static_cast<uint16_t>(1000 + n),
          .dport = 443, .proto = kProtoTcp};
}
Endpoints icmpFlow(int n) {
  return {.src = "10.0.0." + std::to_string(n + 1), .dst = "10.0.3.1", .proto = kProtoIcmp};
}

TEST(FlowTable, CreateAndFindFromEitherDirection) {
  FlowTable t(smallConfig());
  EndLog log;
  const Endpoints e = tcpFlow(1);
  EXPECT_EQ(t.find(keyOf(e)), nullptr);
  Flow& f = addFlow(t, e, 5 * kSecond, log);
  EXPECT_EQ(f.id, 1u);
  EXPECT_EQ(f.first_seen, 5 * kSecond);
  EXPECT_EQ(f.last_seen, 5 * kSecond);
  EXPECT_EQ(f.key, keyOf(e));
  EXPECT_EQ(t.find(keyOf(e)), &f);
  EXPECT_EQ(t.find(FlowKey::fromPacket(reversed(packetOf(e)))), &f);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.counters().created, 1u);

  Flow& g = addFlow(t, udpFlow(1), 6 * kSecond, log);
  EXPECT_EQ(g.id, 2u);
  EXPECT_NE(&g, &f);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.find(keyOf(e)), &f) << "pointers stay valid as the table grows";
  EXPECT_TRUE(log.ended.empty());
}

TEST(FlowTable, IdsAreNeverReused) {
  FlowTable t(smallConfig());
  EndLog log;
  Flow& a = addFlow(t, udpFlow(1), 0, log);
  const uint64_t first = a.id;
  t.remove(a);
  Flow& b = addFlow(t, udpFlow(1), 1, log);
  EXPECT_GT(b.id, first);
}

struct TimeoutCase {
  std::string name;
  Endpoints flow;
  TcpState tcp = TcpState::None;
  uint64_t packets = 1;
  uint8_t fin_seen = 0;
  Timestamp timeout = 0;  // expected idle timeout for this class
  EndReason reason = EndReason::Idle;
};

void PrintTo(const TimeoutCase& c, std::ostream* os) { *os << c.name; }

class TimeoutTest : public testing::TestWithParam<TimeoutCase> {};

TEST_P(TimeoutTest, ExpiresExactlyAtItsTimeout) {
  const TimeoutCase& c = GetParam();
  FlowTable t(smallConfig());
  EndLog log;
  const Timestamp t0 = 1000 * kSecond;
  Flow& f = addFlow(t, c.flow, t0, log, c.tcp, c.packets);
  f.fin_seen = c.fin_seen;
  const uint64_t id = f.id;

  t.expire(t0 + c.timeout - 1, log.callback());
  EXPECT_TRUE(log.ended.empty()) << "expired one microsecond early";
  EXPECT_EQ(t.size(), 1u);

  t.expire(t0 + c.timeout, log.callback());
  ASSERT_EQ(log.ended.size(), 1u);
  EXPECT_EQ(log.ended[0].id, id);
  EXPECT_EQ(toString(log.ended[0].reason), toString(c.reason));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.find(keyOf(c.flow)), nullptr);
  EXPECT_EQ(t.counters().expired, 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Classes, TimeoutTest,
    testing::Values(
        TimeoutCase{.name = "TcpOpeningSynSent", .flow = tcpFlow(1), .tcp = TcpState::SynSent,
                    .timeout = 3 * kSecond},
        TimeoutCase{.name = "TcpOpeningSynReceived", .flow = tcpFlow(1),
                    .tcp = TcpState::SynReceived, .packets = 2, .timeout = 3 * kSecond},
        TimeoutCase{.name = "TcpEstablished", .flow = tcpFlow(1), .tcp = TcpState::Established,
                    .packets = 3, .timeout = 50 * kSecond},
        TimeoutCase{.name = "TcpMidStreamWithoutHandshake", .flow = tcpFlow(1),
                    .tcp = TcpState::None, .packets = 10, .timeout = 50 * kSecond},
        TimeoutCase{.name = "TcpHalfClosed", .flow = tcpFlow(1), .tcp = TcpState::Closing,
                    .packets = 5, .fin_seen = 1, .timeout = 50 * kSecond},
        TimeoutCase{.name = "TcpClosedByFins", .flow = tcpFlow(1), .tcp = TcpState::Closed,
                    .packets = 8, .fin_seen = 3, .timeout = 1 * kSecond,
                    .reason = EndReason::Fin},
        TimeoutCase{.name = "TcpClosedByRst", .flow = tcpFlow(1), .tcp = TcpState::Closed,
                    .packets = 4, .fin_seen = 0, .timeout = 1 * kSecond,
                    .reason = EndReason::Rst},
        TimeoutCase{.name = "TcpRstAfterOneFin", .flow = tcpFlow(1), .tcp = TcpState::Closed,
                    .packets = 4, .fin_seen = 2, .timeout = 1 * kSecond,
                    .reason = EndReason::Rst},
        TimeoutCase{.name = "Udp", .flow = udpFlow(1), .timeout = 7 * kSecond},
        TimeoutCase{.name = "Icmp", .flow = icmpFlow(1), .timeout = 5 * kSecond},
        TimeoutCase{.name = "Sctp",
                    .flow = {.src = "10.0.0.1", .dst = "10.0.0.2", .sport = 1, .dport = 2,
                             .proto = kProtoSctp},
                    .timeout = 5 * kSecond},
        TimeoutCase{.name = "Gre",
                    .flow = {.src = "10.0.0.1", .dst = "10.0.0.2", .proto = kProtoGre},
                    .timeout = 5 * kSecond}),
    [](const auto& info) { return info.param.name; });

TEST(FlowTable, DefaultTimeouts) {
  const FlowTimeouts t;
  EXPECT_EQ(t.tcp_opening, 30 * kSecond);
  EXPECT_EQ(t.tcp_established, 300 * kSecond);
  EXPECT_EQ(t.tcp_closed, 10 * kSecond);
  EXPECT_EQ(t.udp, 60 * kSecond);
  EXPECT_EQ(t.other, 30 * kSecond);
}

TEST(FlowTable, StateChangeMovesFlowToItsNewTimeoutClass) {
  FlowTable t(smallConfig());
  EndLog log;
  Flow& f = addFlow(t, tcpFlow(1), 0, log, TcpState::SynSent);
  // Handshake completes: now on the established clock.
  f.tcp = TcpState::Established;
  f.packets[1] = 1;
  f.packets[0] = 2;
  t.touch(f, 1 * kSecond);
  t.expire(1 * kSecond + 3 * kSecond, log.callback());
  EXPECT_TRUE(log.ended.empty()) << "still using the opening timeout after establishment";
  // Then both FINs: the short linger applies from the last touch.
  f.tcp = TcpState::Closed;
  f.fin_seen = 3;
  t.touch(f, 10 * kSecond);
  t.expire(10 * kSecond + 999 * kMs, log.callback());
  EXPECT_TRUE(log.ended.empty());
  t.expire(11 * kSecond, log.callback());
  ASSERT_EQ(log.ended.size(), 1u);
  EXPECT_EQ(log.ended[0].reason, EndReason::Fin);
}

TEST(FlowTable, TouchRestartsTheIdleTimer) {
  FlowTable t(smallConfig());
  EndLog log;
  Flow& a = addFlow(t, udpFlow(1), 0, log);
  const uint64_t a_id = a.id;
  addFlow(t, udpFlow(2), 1 * kSecond, log);
  t.touch(a, 2 * kSecond);
  EXPECT_EQ(a.last_seen, 2 * kSecond);
  EXPECT_EQ(a.first_seen, 0);
  // At 8s flow 2 (last seen 1s) is idle for 7s; flow 1 (2s) only for 6s.
  t.expire(8 * kSecond, log.callback());
  ASSERT_EQ(log.ended.size(), 1u);
  EXPECT_EQ(log.ended[0].id, a_id + 1);
  t.expire(9 * kSecond, log.callback());
  ASSERT_EQ(log.ended.size(), 2u);
  EXPECT_EQ(log.ended[1].id, a_id);
}

TEST(FlowTable, ExpireHandsOverEveryIdleFlowOldestFirst) {
  FlowTable t(smallConfig());
  EndLog log;
  for (int i = 0; i < 5; ++i) addFlow(t, udpFlow(i), i * kSecond, log);        // ids 1..5
  for (int i = 0; i < 3; ++i) addFlow(t, icmpFlow(i), i * kSecond, log);       // ids 6..8
  // At 9.5s the UDP flows last seen at 0-2s are idle for >= 7s; all ICMP flows for >= 5s.
  t.expire(9 * kSecond + 500 * kMs, log.callback());
  std::vector<uint64_t> udp_ids, icmp_ids;
  for (const auto& e : log.ended) {
    EXPECT_EQ(e.reason, EndReason::Idle);
    (e.id <= 5 ? udp_ids : icmp_ids).push_back(e.id);
  }
  EXPECT_EQ(udp_ids, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(icmp_ids, (std::vector<uint64_t>{6, 7, 8}));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.counters().expired, 6u);
}

TEST(FlowTable, TouchNeverMovesLastSeenBackwards) {
  FlowTable t(smallConfig());
  EndLog log;
  Flow& f = addFlow(t, udpFlow(1), 100 * kSecond, log);
  t.touch(f, 50 * kSecond);
  EXPECT_EQ(f.last_seen, 100 * kSecond);
  EXPECT_EQ(f.first_seen, 100 * kSecond);
  t.expire(100 * kSecond + 7 * kSecond - 1, log.callback());
  EXPECT_TRUE(log.ended.empty());
  t.expire(107 * kSecond, log.callback());
  EXPECT_EQ(log.ended.size(), 1u);
}

// Captures from several queues or interfaces are not perfectly ordered: a flow
// touched with an older timestamp than its neighbours must still expire when
// its own idle time is up (the lists are meant to stay ordered by activity).
TEST(FlowTable, OutOfOrderTouchStillExpiresOnTime) {
  FlowTable t(smallConfig());
  EndLog log;
  Flow& a = addFlow(t, udpFlow(1), 50 * kSecond, log);
  Flow& b = addFlow(t, udpFlow(2), 100 * kSecond, log);
  t.touch(a, 60 * kSecond);  // an older packet of flow a arrives after b's
  ASSERT_EQ(a.last_seen, 60 * kSecond);
  ASSERT_EQ(b.last_seen, 100 * kSecond);
  const uint64_t a_id = a.id;  // `a` is destroyed when it expires
  // At 106s (the clock follows the newest packet) flow a has been idle for 46s,
  // far past the 7s UDP timeout; flow b only for 6s.
  t.expire(106 * kSecond, log.callback());
  ASSERT_EQ(log.ended.size(), 1u) << "flow a (last seen 60s) was not expired at 106s";
  EXPECT_EQ(log.ended[0].id, a_id);
}

TEST(FlowTable, EvictsLeastRecentlyUsedAcrossClasses) {
  FlowTable t(smallConfig(3));
  EndLog log;
  Flow& x = addFlow(t, udpFlow(1), 1 * kSecond, log);
  const uint64_t y = addFlow(t, tcpFlow(1), 2 * kSecond, log, TcpState::Established, 4).id;
  const uint64_t z = addFlow(t, icmpFlow(1), 3 * kSecond, log).id;
  t.touch(x, 4 * kSecond);  // x is now the most recently used
  EXPECT_EQ(t.size(), 3u);

  addFlow(t, udpFlow(2), 5 * kSecond, log);
  ASSERT_EQ(log.ended.size(), 1u);
  EXPECT_EQ(log.ended[0].id, y) << "the TCP flow was least recently touched";
  EXPECT_EQ(log.ended[0].reason, EndReason::Evicted);
  EXPECT_EQ(t.find(keyOf(tcpFlow(1))), nullptr);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.counters().evicted, 1u);

  addFlow(t, udpFlow(3), 6 * kSecond, log);
  ASSERT_EQ(log.ended.size(), 2u);
  EXPECT_EQ(log.ended[1].id, z);
  EXPECT_NE(t.find(keyOf(udpFlow(1))), nullptr);
  EXPECT_EQ(t.counters().evicted, 2u);
  EXPECT_EQ(t.counters().created, 5u);
  EXPECT_EQ(t.counters().expired, 0u);
}

TEST(FlowTable, EvictionCallbackSeesTheLiveFlow) {
  FlowTable t(smallConfig(1));
  int calls = 0;
  Flow& a = t.create(keyOf(udpFlow(1)), 0, [](Flow&, EndReason) { FAIL(); });
  a.proto = kProtoUdp;
  a.packets[0] = 42;
  t.touch(a, 0);
  t.create(keyOf(udpFlow(2)), 1, [&](Flow& victim, EndReason r) {
    ++calls;
    EXPECT_EQ(victim.packets[0], 42u);
    EXPECT_EQ(victim.key, keyOf(udpFlow(1)));
    EXPECT_EQ(r, EndReason::Evicted);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_NE(t.find(keyOf(udpFlow(2))), nullptr);
}

// A model check of the LRU: with increasing timestamps, the victim is always
// the flow with the oldest last_seen, whatever its class.
TEST(FlowTable, EvictionMatchesAnLruModel) {
  constexpr size_t kMax = 40;
  FlowTable t(smallConfig(kMax));
  std::map<uint64_t, Timestamp> model;  // id -> last_seen
  std::map<uint64_t, Endpoints> endpoints;
  std::mt19937 rng(7);
  Timestamp now = 0;
  int next = 0;
  std::vector<uint64_t> victims;
  auto on_end = [&](Flow& f, EndReason r) {
    EXPECT_EQ(r, EndReason::Evicted);
    victims.push_back(f.id);
  };
  for (int op = 0; op < 3000; ++op) {
    now += 1 + static_cast<Timestamp>(rng() % 1000);
    if (model.empty() || rng() % 3 == 0) {
      const int n = next++;
      Endpoints e = (n % 3 == 0) ? udpFlow(n) : (n % 3 == 1) ? tcpFlow(n) : icmpFlow(n % 200);
      if (n % 3 == 2) e.dst = "10.1." + std::to_string(n / 250) + "." + std::to_string(n % 250);
      uint64_t expect_victim = 0;
      if (model.size() >= kMax) {
        Timestamp best = INT64_MAX;
        for (auto& [id, seen] : model) {
          if (seen < best) {
            best = seen;
            expect_victim = id;
          }
        }
      }
      victims.clear();
      Flow& f = t.create(keyOf(e), now, on_end);
      f.proto = e.proto;
      f.tcp = e.proto == kProtoTcp ? TcpState::Established : TcpState::None;
      t.touch(f, now);
      if (expect_victim) {
        ASSERT_EQ(victims.size(), 1u);
        ASSERT_EQ(victims[0], expect_victim) << "op " << op;
        model.erase(expect_victim);
        endpoints.erase(expect_victim);
      } else {
        ASSERT_TRUE(victims.empty());
      }
      model[f.id] = now;
      endpoints[f.id] = e;
    } else {
      auto it = model.begin();
      std::advance(it, static_cast<long>(rng() % model.size()));
      Flow* f = t.find(keyOf(endpoints[it->first]));
      ASSERT_NE(f, nullptr);
      ASSERT_EQ(f->id, it->first);
      t.touch(*f, now);
      it->second = now;
    }
    ASSERT_EQ(t.size(), model.size());
  }
  EXPECT_GT(t.counters().evicted, 0u);
}

TEST(FlowTable, RemoveKeepsTheListsIntact) {
  FlowTable t(smallConfig());
  EndLog log;
  for (int i = 0; i < 5; ++i) addFlow(t, udpFlow(i), i, log);  // ids 1..5
  t.remove(*t.find(keyOf(udpFlow(2))));  // middle
  t.remove(*t.find(keyOf(udpFlow(0))));  // head
  t.remove(*t.find(keyOf(udpFlow(4))));  // tail
  EXPECT_EQ(t.size(), 2u);
  addFlow(t, udpFlow(9), 10, log);  // id 6, appended after the old tail was removed
  t.expire(100 * kSecond, log.callback());
  EXPECT_EQ(log.ids(), (std::vector<uint64_t>{2, 4, 6}));
  EXPECT_EQ(t.size(), 0u);
}

TEST(FlowTable, DrainEndsEverythingWithTheReasonUnlessClosed) {
  FlowTable t(smallConfig());
  EndLog log;
  const uint64_t u = addFlow(t, udpFlow(1), 0, log).id;
  const uint64_t e = addFlow(t, tcpFlow(1), 0, log, TcpState::Established, 5).id;
  Flow& fin = addFlow(t, tcpFlow(2), 0, log, TcpState::Closed, 8);
  fin.fin_seen = 3;
  const uint64_t fin_id = fin.id;
  Flow& rst = addFlow(t, tcpFlow(3), 0, log, TcpState::Closed, 3);
  const uint64_t rst_id = rst.id;
  const uint64_t o = addFlow(t, icmpFlow(1), 0, log).id;

  t.drain(EndReason::EndOfInput, log.callback());
  EXPECT_EQ(t.size(), 0u);
  std::map<uint64_t, EndReason> got;
  for (const auto& x : log.ended) EXPECT_TRUE(got.emplace(x.id, x.reason).second) << "twice";
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ(got[u], EndReason::EndOfInput);
  EXPECT_EQ(got[e], EndReason::EndOfInput);
  EXPECT_EQ(got[o], EndReason::EndOfInput);
  EXPECT_EQ(got[fin_id], EndReason::Fin);
  EXPECT_EQ(got[rst_id], EndReason::Rst);
  EXPECT_EQ(t.counters().expired, 0u) << "a drain is not an idle expiry";
  // The table is usable again after a drain.
  addFlow(t, udpFlow(1), 1, log);
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTable, NothingExpiresBeforeItsTime) {
  FlowTable t(smallConfig());
  EndLog log;
  for (int i = 0; i < 10; ++i) addFlow(t, udpFlow(i), 100 * kSecond, log);
  t.expire(0, log.callback());  // a clock behind the packets
  t.expire(100 * kSecond, log.callback());
  EXPECT_TRUE(log.ended.empty());
  EXPECT_EQ(t.size(), 10u);
}

TEST(FlowTable, ReasonNames) {
  EXPECT_EQ(toString(EndReason::Fin), "fin");
  EXPECT_EQ(toString(EndReason::Rst), "rst");
  EXPECT_EQ(toString(EndReason::Idle), "idle");
  EXPECT_EQ(toString(EndReason::Evicted), "evicted");
  EXPECT_EQ(toString(EndReason::EndOfInput), "end_of_input");
  EXPECT_EQ(toString(EndReason::Shutdown), "shutdown");
  EXPECT_GE(FlowTable::bytesPerFlowEstimate(), sizeof(Flow) + sizeof(FlowKey));
}

}  // namespace
}  // namespace fg::core
