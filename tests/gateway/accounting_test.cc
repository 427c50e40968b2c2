// daemon::Accounting: decided flows + conntrack entries -> flow_end events
// and per-interval aggregates (synthetic nl::CtEntry values, no kernel).
#include "gateway/daemon/accounting.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

namespace fg::daemon {
namespace {

using nlohmann::json;
constexpr int64_t kSec = 1'000'000;
// An aligned base time: 1'700'000'040 is a multiple of 60 (and of 2, 10).
constexpr int64_t kBase = 1'700'000'040;

nl::CtTuple v4(const char* src, uint16_t sport, const char* dst, uint16_t dport, uint8_t proto = IPPROTO_TCP) {
  auto t = tupleOf(src, sport, dst, dport, proto);
  EXPECT_TRUE(t.has_value()) << src << " " << dst;
  return t.value_or(nl::CtTuple{});
}

std::string recordFor(const std::string& id, const std::string& app, const std::string& rule,
                      const std::string& src = "10.0.0.2", const std::string& dst = "192.0.2.10") {
  nlohmann::ordered_json r;  // the encoder's field order
  r["event"] = "flow";
  r["ts"] = 1700000041.5;
  r["flow_id"] = id;
  r["ip_version"] = 4;
  r["proto"] = "tcp";
  r["src_ip"] = src;
  r["src_port"] = 40000;
  r["dst_ip"] = dst;
  r["dst_port"] = 443;
  r["application"] = app;
  r["hostname"] = "www.netflix.com";
  r["packets"] = 3;  // as far as the engine saw them at the decision
  r["bytes"] = 400;
  r["src_packets"] = 2;
  r["src_bytes"] = 250;
  r["dst_packets"] = 1;
  r["dst_bytes"] = 150;
  r["first_seen"] = 1700000041.0;
  r["last_seen"] = 1700000041.5;
  r["end_reason"] = "shutdown";
  r["verdict"] = "accept";
  r["rule"] = rule.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(rule);
  return r.dump();
}

DecidedFlow decided(const std::string& id, const nl::CtTuple& t, const std::string& app, const std::string& rule,
                    int64_t first_seen_us, const std::string& src = "10.0.0.2",
                    const std::string& dst = "192.0.2.10") {
  return DecidedFlow{.flow_id = id,
                     .tuple = t,
                     .attrs = ctl::FlowAttributes{.application = app, .local_address = src, .rule = rule},
                     .src = src,
                     .dst = dst,
                     .first_seen_us = first_seen_us,
                     .record = recordFor(id, app, rule, src, dst)};
}

nl::CtEntry entry(nl::CtEntry::Kind kind, const nl::CtTuple& t, uint64_t ob, uint64_t op, uint64_t rb, uint64_t rp,
                  uint32_t id = 77) {
  nl::CtEntry e;
  e.kind = kind;
  e.orig = t;
  e.id = id;
  e.mark = 0x80000020;
  e.has_counters = true;
  e.orig_bytes = ob;
  e.orig_packets = op;
  e.reply_bytes = rb;
  e.reply_packets = rp;
  return e;
}

// Sum of the rows of one kind and key over every emitted interval.
ctl::TrafficCounters sum(const std::vector<ctl::AggregateRow>& rows, ctl::AggregateBy by, const std::string& key) {
  ctl::TrafficCounters t;
  for (const auto& r : rows)
    if (r.by == by && r.key == key) t += r.counters;
  return t;
}

const ctl::AggregateRow* row(const std::vector<ctl::AggregateRow>& rows, int64_t start_s, ctl::AggregateBy by,
                             const std::string& key) {
  for (const auto& r : rows)
    if (r.interval_start_s == start_s && r.by == by && r.key == key) return &r;
  return nullptr;
}

ctl::Aggregator::Options opts(uint32_t interval_s = 10) {
  return ctl::Aggregator::Options{.interval_s = interval_s, .per_address = true, .per_rule = true,
                                  .start_us = kBase * kSec + 1};  // just after a boundary
}

// ---- tupleOf -------------------------------------------------------------------

TEST(TupleOf, Ipv4) {
  auto t = tupleOf("10.0.0.2", 40000, "192.0.2.10", 443, IPPROTO_TCP);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->family, nl::IpFamily::V4);
  const std::array<uint8_t, 16> src{10, 0, 0, 2}, dst{192, 0, 2, 10};
  EXPECT_EQ(t->src, src);  // network order, the other 12 bytes zero
  EXPECT_EQ(t->dst, dst);
  EXPECT_EQ(t->src_port, 40000);
  EXPECT_EQ(t->dst_port, 443);
  EXPECT_EQ(t->l4proto, IPPROTO_TCP);
}

TEST(TupleOf, Ipv6) {
  auto t = tupleOf("fd71:1::2", 5353, "2001:db8::1", 53, IPPROTO_UDP);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->family, nl::IpFamily::V6);
  std::array<uint8_t, 16> src{};
  ASSERT_EQ(inet_pton(AF_INET6, "fd71:1::2", src.data()), 1);
  EXPECT_EQ(t->src, src);
  EXPECT_EQ(t->dst[0], 0x20);
  EXPECT_EQ(t->dst[15], 0x01);
  EXPECT_EQ(t->src_port, 5353);
  EXPECT_EQ(t->dst_port, 53);
  EXPECT_EQ(t->l4proto, IPPROTO_UDP);
}

TEST(TupleOf, PortlessProtocol) {
  auto t = tupleOf("10.0.0.2", 0, "10.0.0.1", 0, IPPROTO_ICMP);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->src_port, 0);
  EXPECT_EQ(t->l4proto, IPPROTO_ICMP);
}

TEST(TupleOf, BadInputIsNullopt) {
  EXPECT_FALSE(tupleOf("", 1, "10.0.0.1", 2, IPPROTO_TCP));
  EXPECT_FALSE(tupleOf("10.0.0.256", 1, "10.0.0.1", 2, IPPROTO_TCP));
  EXPECT_FALSE(tupleOf("not an address", 1, "10.0.0.1", 2, IPPROTO_TCP));
  EXPECT_FALSE(tupleOf("10.0.0.2", 1, "garbage", 2, IPPROTO_TCP));
  EXPECT_FALSE(tupleOf("10.0.0.2", 1, "fd71::1", 2, IPPROTO_TCP));   // mixed families
  EXPECT_FALSE(tupleOf("fd71::2", 1, "10.0.0.1", 2, IPPROTO_TCP));
  EXPECT_FALSE(tupleOf("fd71::2::3", 1, "fd71::1", 2, IPPROTO_TCP));  // two '::'
  EXPECT_FALSE(tupleOf("fe80::1%eth0", 1, "fe80::2", 2, IPPROTO_TCP));
}

TEST(TupleOf, HashAndEqualityDistinguishEveryField) {
  const auto a = v4("10.0.0.2", 40000, "192.0.2.10", 443);
  CtTupleHash h;
  EXPECT_EQ(h(a), h(v4("10.0.0.2", 40000, "192.0.2.10", 443)));
  for (const auto& b : {v4("10.0.0.3", 40000, "192.0.2.10", 443), v4("10.0.0.2", 40001, "192.0.2.10", 443),
                        v4("10.0.0.2", 40000, "192.0.2.11", 443), v4("10.0.0.2", 40000, "192.0.2.10", 444),
                        v4("10.0.0.2", 40000, "192.0.2.10", 443, IPPROTO_UDP),
                        v4("192.0.2.10", 443, "10.0.0.2", 40000)}) {
    EXPECT_FALSE(a == b);
    EXPECT_NE(h(a), h(b));
  }
  nl::CtTuple six = a;
  six.family = nl::IpFamily::V6;  // same bytes, other family: another flow
  EXPECT_FALSE(a == six);
  EXPECT_NE(h(a), h(six));
}

// ---- track, samples, destroy ----------------------------------------------------

// A flow over three 10 s intervals: decided at +1 s, dump samples at the
// boundaries (+10, +20), destroyed at +25. Every interval gets exactly its
// delta; the flow_end carries conntrack's totals and the decided record.
TEST(Accounting, FlowAcrossIntervalsThenDestroy) {
  Accounting acc(opts(10));
  const auto t = v4("10.0.0.2", 40000, "192.0.2.10", 443);
  acc.track(decided("42", t, "NetFlix", "netflix-video", (kBase + 1) * kSec));
  EXPECT_EQ(acc.counters().tracked, 1u);

  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Dump, t, 1000, 10, 50000, 40), (kBase + 10) * kSec));
  auto rows = acc.close((kBase + 10) * kSec);
  const auto* i0 = row(rows, kBase, ctl::AggregateBy::Application, "NetFlix");
  ASSERT_TRUE(i0);
  EXPECT_EQ(i0->counters, (ctl::TrafficCounters{.bytes_up = 1000, .bytes_down = 50000, .packets_up = 10,
                                                .packets_down = 40, .flows_new = 1}));
  EXPECT_TRUE(i0->partial);  // the interval the accounting started in

  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Dump, t, 3000, 25, 250000, 200), (kBase + 20) * kSec));
  auto more = acc.close((kBase + 20) * kSec);
  rows.insert(rows.end(), more.begin(), more.end());

  nl::CtEntry d = entry(nl::CtEntry::Kind::Destroy, t, 3500, 31, 260000, 210, 9001);
  d.start_ns = static_cast<uint64_t>(kBase + 1) * 1'000'000'000ull + 250'000'000ull;  // +1.25 s
  d.stop_ns = static_cast<uint64_t>(kBase + 24) * 1'000'000'000ull + 750'000'000ull;  // +24.75 s
  auto ev = acc.onConntrack(d, (kBase + 25) * kSec);
  ASSERT_TRUE(ev);
  more = acc.close((kBase + 30) * kSec);
  rows.insert(rows.end(), more.begin(), more.end());

  // The event's filter keys.
  EXPECT_EQ(ev->topic, ctl::Topic::FlowEnd);
  EXPECT_EQ(ev->application, "NetFlix");
  EXPECT_EQ(ev->rule, "netflix-video");
  EXPECT_EQ(ev->src, "10.0.0.2");
  EXPECT_EQ(ev->dst, "192.0.2.10");
  // The record: conntrack's totals, the decided record's identity.
  const json j = json::parse(ev->json);
  EXPECT_EQ(j["event"], "flow_end");
  EXPECT_EQ(j["flow_id"], "42");
  EXPECT_EQ(j["src_bytes"], 3500);
  EXPECT_EQ(j["src_packets"], 31);
  EXPECT_EQ(j["dst_bytes"], 260000);
  EXPECT_EQ(j["dst_packets"], 210);
  EXPECT_EQ(j["bytes"], 263500);
  EXPECT_EQ(j["packets"], 241);
  EXPECT_EQ(j["application"], "NetFlix");
  EXPECT_EQ(j["rule"], "netflix-video");
  EXPECT_EQ(j["hostname"], "www.netflix.com");
  EXPECT_EQ(j["verdict"], "accept");
  EXPECT_EQ(j["counted_by"], "conntrack");
  EXPECT_EQ(j["conntrack_id"], 9001);
  EXPECT_FALSE(j.contains("end_reason"));
  EXPECT_DOUBLE_EQ(j["ts"].get<double>(), static_cast<double>(kBase + 25));
  EXPECT_DOUBLE_EQ(j["first_seen"].get<double>(), static_cast<double>(kBase) + 1.25);
  EXPECT_DOUBLE_EQ(j["last_seen"].get<double>(), static_cast<double>(kBase) + 24.75);
  EXPECT_NEAR(j["duration"].get<double>(), 23.5, 1e-6);
  // The record's field order is kept (event first, flow_id where it was).
  const auto ordered = nlohmann::ordered_json::parse(ev->json);
  EXPECT_EQ(ordered.begin().key(), "event");
  EXPECT_LT(ev->json.find("\"flow_id\""), ev->json.find("\"src_ip\""));

  // Each interval got its own delta; the totals telescope to conntrack's.
  const auto* i1 = row(rows, kBase + 10, ctl::AggregateBy::Application, "NetFlix");
  const auto* i2 = row(rows, kBase + 20, ctl::AggregateBy::Application, "NetFlix");
  ASSERT_TRUE(i1 && i2);
  EXPECT_EQ(i1->counters, (ctl::TrafficCounters{.bytes_up = 2000, .bytes_down = 200000, .packets_up = 15,
                                                .packets_down = 160}));
  EXPECT_EQ(i2->counters, (ctl::TrafficCounters{.bytes_up = 500, .bytes_down = 10000, .packets_up = 6,
                                                .packets_down = 10}));
  const ctl::TrafficCounters want{.bytes_up = 3500, .bytes_down = 260000, .packets_up = 31, .packets_down = 210,
                                  .flows_new = 1};
  EXPECT_EQ(sum(rows, ctl::AggregateBy::Application, "NetFlix"), want);
  EXPECT_EQ(sum(rows, ctl::AggregateBy::Rule, "netflix-video"), want);
  EXPECT_EQ(sum(rows, ctl::AggregateBy::Address, "10.0.0.2"), want);
  EXPECT_EQ(sum(rows, ctl::AggregateBy::Total, ""), want);
  EXPECT_EQ(acc.aggregator().applicationTotals().at("NetFlix"), want);

  const auto c = acc.counters();
  EXPECT_EQ(c.tracked, 0u);
  EXPECT_EQ(c.ended, 1u);
  EXPECT_EQ(c.samples, 3u);
  EXPECT_EQ(c.unmatched_destroys, 0u);
  EXPECT_EQ(acc.aggregator().activeFlows(), 0u);
  EXPECT_EQ(acc.aggregator().anomalies(), 0u);
}

// Without conntrack timestamps, the duration runs from the flow's first
// packet (as flowgate saw it) to the destroy.
TEST(Accounting, DurationWithoutConntrackTimestamps) {
  Accounting acc(opts());
  const auto t = v4("10.0.0.2", 40001, "192.0.2.10", 443);
  acc.track(decided("7", t, "TLS", "", (kBase + 2) * kSec + 500'000));
  auto ev = acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, t, 10, 1, 20, 2), (kBase + 5) * kSec);
  ASSERT_TRUE(ev);
  const json j = json::parse(ev->json);
  EXPECT_DOUBLE_EQ(j["first_seen"].get<double>(), static_cast<double>(kBase) + 2.5);
  EXPECT_DOUBLE_EQ(j["last_seen"].get<double>(), static_cast<double>(kBase + 5));
  EXPECT_NEAR(j["duration"].get<double>(), 2.5, 1e-6);
  EXPECT_TRUE(j["rule"].is_null());  // decided by the default
  EXPECT_EQ(ev->rule, "");
}

// A stop before the start (clock step) is not trusted: fall back.
TEST(Accounting, InconsistentTimestampsFallBack) {
  Accounting acc(opts());
  const auto t = v4("10.0.0.2", 40002, "192.0.2.10", 443);
  acc.track(decided("8", t, "TLS", "r", (kBase + 1) * kSec));
  nl::CtEntry d = entry(nl::CtEntry::Kind::Destroy, t, 10, 1, 20, 2);
  d.start_ns = static_cast<uint64_t>(kBase + 9) * 1'000'000'000ull;
  d.stop_ns = static_cast<uint64_t>(kBase + 3) * 1'000'000'000ull;
  auto ev = acc.onConntrack(d, (kBase + 4) * kSec);
  ASSERT_TRUE(ev);
  const json j = json::parse(ev->json);
  EXPECT_NEAR(j["duration"].get<double>(), 3.0, 1e-6);
  EXPECT_GE(j["duration"].get<double>(), 0.0);
}

TEST(Accounting, UnmatchedDestroysAreCountedNotEnded) {
  Accounting acc(opts());
  const auto tracked = v4("10.0.0.2", 40003, "192.0.2.10", 443);
  const auto other = v4("10.0.0.9", 40003, "192.0.2.10", 443);
  acc.track(decided("9", tracked, "TLS", "r", (kBase + 1) * kSec));
  // Conntrack entries of flows flowgate never decided (kernel bypass).
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, other, 1, 1, 1, 1), (kBase + 2) * kSec));
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Dump, other, 1, 1, 1, 1), (kBase + 2) * kSec));
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Update, other, 1, 1, 1, 1), (kBase + 2) * kSec));
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::New, other, 1, 1, 1, 1), (kBase + 2) * kSec));
  // The reply-direction tuple is not the flow's key.
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, v4("192.0.2.10", 443, "10.0.0.2", 40003), 1, 1, 1, 1),
                               (kBase + 2) * kSec));
  auto c = acc.counters();
  EXPECT_EQ(c.unmatched_destroys, 2u);
  EXPECT_EQ(c.samples, 0u);
  EXPECT_EQ(c.tracked, 1u);
  EXPECT_EQ(c.ended, 0u);
  // The real end; a duplicate destroy afterwards is unmatched.
  EXPECT_TRUE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, tracked, 5, 1, 5, 1), (kBase + 3) * kSec));
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, tracked, 5, 1, 5, 1), (kBase + 3) * kSec));
  c = acc.counters();
  EXPECT_EQ(c.unmatched_destroys, 3u);
  EXPECT_EQ(c.ended, 1u);
  EXPECT_EQ(c.tracked, 0u);
  // Untracked traffic never reaches the aggregates.
  const auto rows = acc.close((kBase + 10) * kSec);
  EXPECT_EQ(sum(rows, ctl::AggregateBy::Total, ""),
            (ctl::TrafficCounters{.bytes_up = 5, .bytes_down = 5, .packets_up = 1, .packets_down = 1, .flows_new = 1}));
}

// Conntracks created before accounting was switched on have no counters:
// samples add nothing, a destroy still ends the flow (counted_by none).
TEST(Accounting, EntriesWithoutCounters) {
  Accounting acc(opts());
  const auto t = v4("10.0.0.2", 40004, "192.0.2.10", 443);
  acc.track(decided("10", t, "NetFlix", "netflix-video", (kBase + 1) * kSec));
  nl::CtEntry dump = entry(nl::CtEntry::Kind::Dump, t, 0, 0, 0, 0);
  dump.has_counters = false;
  EXPECT_FALSE(acc.onConntrack(dump, (kBase + 2) * kSec));
  EXPECT_EQ(acc.counters().samples, 0u);
  nl::CtEntry d = dump;
  d.kind = nl::CtEntry::Kind::Destroy;
  auto ev = acc.onConntrack(d, (kBase + 3) * kSec);
  ASSERT_TRUE(ev);
  const json j = json::parse(ev->json);
  EXPECT_EQ(j["event"], "flow_end");
  EXPECT_EQ(j["counted_by"], "none");
  EXPECT_EQ(j["application"], "NetFlix");
  EXPECT_EQ(acc.counters().tracked, 0u);
  EXPECT_EQ(acc.counters().ended, 1u);
  const auto rows = acc.close((kBase + 10) * kSec);
  EXPECT_EQ(sum(rows, ctl::AggregateBy::Application, "NetFlix"), (ctl::TrafficCounters{.flows_new = 1}));
  EXPECT_EQ(acc.aggregator().anomalies(), 0u);
}

// A destroy that arrives after its interval was emitted goes to the oldest
// open interval: nothing is lost, emitted rows stay final.
TEST(Accounting, LateDestroyIsConserved) {
  Accounting acc(opts(10));
  const auto t = v4("10.0.0.2", 40005, "192.0.2.10", 443);
  acc.track(decided("11", t, "NetFlix", "netflix-video", (kBase + 1) * kSec));
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Dump, t, 100, 1, 1000, 2), (kBase + 5) * kSec));
  auto rows = acc.close((kBase + 10) * kSec);
  auto more = acc.close((kBase + 20) * kSec);
  rows.insert(rows.end(), more.begin(), more.end());
  // Stamped inside interval 0, which is already out.
  auto ev = acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, t, 150, 2, 3000, 4), (kBase + 8) * kSec);
  ASSERT_TRUE(ev);
  more = acc.close((kBase + 30) * kSec);
  rows.insert(rows.end(), more.begin(), more.end());
  EXPECT_EQ(sum(rows, ctl::AggregateBy::Application, "NetFlix"),
            (ctl::TrafficCounters{.bytes_up = 150, .bytes_down = 3000, .packets_up = 2, .packets_down = 4,
                                  .flows_new = 1}));
  const auto* late = row(rows, kBase + 20, ctl::AggregateBy::Application, "NetFlix");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->counters.bytes_up, 50u);
  EXPECT_GE(acc.aggregator().lateInputs(), 1u);
}

// Several flows of several applications: every total row is the sum of its
// application rows, and the totals equal the flows' final counters.
TEST(Accounting, AggregatesConserveTotalsOverManyFlows) {
  Accounting acc(opts(2));
  struct F {
    nl::CtTuple t;
    std::string id, app;
    uint64_t ob = 0, op = 0, rb = 0, rp = 0;
    bool ended = false;
  };
  std::vector<F> flows;
  const char* apps[] = {"NetFlix", "YouTube", "BitTorrent"};
  for (int i = 0; i < 30; ++i) {
    F f{.t = v4("10.0.0.2", static_cast<uint16_t>(41000 + i), "192.0.2.10", 443), .id = std::to_string(100 + i),
        .app = apps[i % 3]};
    acc.track(decided(f.id, f.t, f.app, f.app + "-rule", (kBase + i % 7) * kSec + 123));
    flows.push_back(f);
  }
  std::vector<ctl::AggregateRow> rows;
  std::map<std::string, ctl::TrafficCounters> want;
  // 40 ticks of 0.5 s: counters grow, a dump every tick, boundaries closed,
  // flows end along the way (some between dumps).
  for (int tick = 1; tick <= 40; ++tick) {
    const int64_t now = kBase * kSec + tick * 500'000;
    for (size_t i = 0; i < flows.size(); ++i) {
      F& f = flows[i];
      if (f.ended) continue;
      f.ob += 100 * (i + 1) + tick;
      f.op += 1;
      f.rb += 1000 * (i % 5 + 1);
      f.rp += 2;
      if (tick == static_cast<int>(5 + i)) {
        ASSERT_TRUE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, f.t, f.ob, f.op, f.rb, f.rp), now - 250'000));
        f.ended = true;
        continue;
      }
      EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Dump, f.t, f.ob, f.op, f.rb, f.rp), now));
    }
    auto out = acc.close(now);
    rows.insert(rows.end(), out.begin(), out.end());
  }
  for (F& f : flows) {
    if (!f.ended) {
      ASSERT_TRUE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, f.t, f.ob, f.op, f.rb, f.rp), (kBase + 21) * kSec));
      f.ended = true;
    }
    want[f.app] += ctl::TrafficCounters{.bytes_up = f.ob, .bytes_down = f.rb, .packets_up = f.op,
                                        .packets_down = f.rp, .flows_new = 1};
  }
  auto out = acc.close((kBase + 30) * kSec);
  rows.insert(rows.end(), out.begin(), out.end());

  ctl::TrafficCounters all;
  for (const auto& [app, c] : want) {
    EXPECT_EQ(sum(rows, ctl::AggregateBy::Application, app), c) << app;
    EXPECT_EQ(sum(rows, ctl::AggregateBy::Rule, app + "-rule"), c) << app;
    all += c;
  }
  EXPECT_EQ(sum(rows, ctl::AggregateBy::Total, ""), all);
  EXPECT_EQ(sum(rows, ctl::AggregateBy::Address, "10.0.0.2"), all);
  std::map<int64_t, std::pair<ctl::TrafficCounters, int>> per;  // interval -> (sum of apps, total rows)
  for (const auto& r : rows) {
    if (r.by == ctl::AggregateBy::Application) per[r.interval_start_s].first += r.counters;
  }
  for (const auto& r : rows) {
    if (r.by != ctl::AggregateBy::Total) continue;
    EXPECT_EQ(r.counters, per[r.interval_start_s].first) << r.interval_start_s;
    EXPECT_EQ(++per[r.interval_start_s].second, 1) << "one total row per interval";
    EXPECT_EQ(r.interval_start_s % 2, 0);
  }
  const auto c = acc.counters();
  EXPECT_EQ(c.tracked, 0u);
  EXPECT_EQ(c.ended, 30u);
  EXPECT_EQ(acc.aggregator().activeFlows(), 0u);
  EXPECT_EQ(acc.aggregator().anomalies(), 0u);
}

// A record that is not JSON (never produced by the encoder) still yields a
// well-formed flow_end.
TEST(Accounting, BrokenRecordStillYieldsFlowEnd) {
  Accounting acc(opts());
  const auto t = v4("10.0.0.2", 40006, "192.0.2.10", 443);
  DecidedFlow f = decided("12", t, "NetFlix", "r", (kBase + 1) * kSec);
  f.record = "{not json";
  acc.track(std::move(f));
  auto ev = acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, t, 1, 1, 2, 1), (kBase + 2) * kSec);
  ASSERT_TRUE(ev);
  const json j = json::parse(ev->json);
  EXPECT_EQ(j["event"], "flow_end");
  EXPECT_EQ(j["flow_id"], "12");
  EXPECT_EQ(j["bytes"], 3);
}

TEST(Accounting, Ipv6FlowIsMatched) {
  Accounting acc(opts());
  auto t = tupleOf("fd71:1::2", 40007, "fd71:100::1", 443, IPPROTO_TCP);
  ASSERT_TRUE(t);
  acc.track(decided("13", *t, "NetFlix", "r", (kBase + 1) * kSec, "fd71:1::2", "fd71:100::1"));
  auto ev = acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, *t, 700, 3, 900, 4), (kBase + 2) * kSec);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->src, "fd71:1::2");
  EXPECT_EQ(json::parse(ev->json)["src_bytes"], 700);
}

// Every tracked flow is listed (the `flows` answer's decided part).
TEST(Accounting, ForEachTrackedListsLiveFlows) {
  Accounting acc(opts());
  const auto a = v4("10.0.0.2", 40008, "192.0.2.10", 443);
  const auto b = v4("10.0.0.2", 40009, "192.0.2.10", 443);
  acc.track(decided("14", a, "NetFlix", "r", (kBase + 1) * kSec));
  acc.track(decided("15", b, "YouTube", "r", (kBase + 1) * kSec));
  ASSERT_TRUE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, a, 1, 1, 1, 1), (kBase + 2) * kSec));
  std::vector<std::string> ids;
  acc.forEachTracked([&](const DecidedFlow& f) { ids.push_back(f.flow_id); });
  EXPECT_EQ(ids, std::vector<std::string>{"15"});
}

// Tuple reuse: a client reuses its source port while the previous
// conntrack of the same tuple is being destroyed (TCP reopen in TIME_WAIT:
// the kernel kills the old conntrack and creates a new one for the same
// SYN). The control thread can see the new flow's decision before the old
// conntrack's destroy event. That destroy (its conntrack started before the
// new flow's first packet) must not end the new flow, and the old flow must
// still get its flow_end. Accounting matches on the tuple alone (a DecidedFlow
// carries no conntrack identity), so today it does both wrong. Disabled: the
// ordering has not been reproduced in the namespace lab yet (there the worker
// reuses the old decision instead, see control_socket_test.sh); enable with
// --gtest_also_run_disabled_tests.
TEST(Accounting, DestroyOfPreviousConntrackWithSameTupleDoesNotEndNewFlow) {
  Accounting acc(opts());
  const auto t = v4("10.0.0.2", 40010, "192.0.2.10", 443);
  acc.track(decided("20", t, "NetFlix", "r", (kBase + 1) * kSec));
  acc.track(decided("21", t, "YouTube", "r", (kBase + 5) * kSec));  // same tuple, decided before the old destroy
  nl::CtEntry old_end = entry(nl::CtEntry::Kind::Destroy, t, 5000, 10, 9000, 12, /*id=*/1);
  old_end.start_ns = static_cast<uint64_t>(kBase + 1) * 1'000'000'000ull;
  old_end.stop_ns = static_cast<uint64_t>(kBase + 5) * 1'000'000'000ull;
  auto ev = acc.onConntrack(old_end, (kBase + 5) * kSec + 1000);
  ASSERT_TRUE(ev);
  EXPECT_EQ(json::parse(ev->json)["flow_id"], "20") << "the old conntrack's totals were given to the new flow";
  EXPECT_EQ(acc.counters().tracked, 1u) << "the new flow must still be tracked";
  std::vector<std::string> ids;
  acc.forEachTracked([&](const DecidedFlow& f) { ids.push_back(f.flow_id); });
  EXPECT_EQ(ids, std::vector<std::string>{"21"});
}

}  // namespace
}  // namespace fg::daemon

namespace fg::daemon {
namespace {

// ---- the live lifecycle: early end, flow_stats, shutdown ---------------------

TEST(CounterDelta, GrowthAndReplacement) {
  const CtCounters a{.orig_bytes = 100, .orig_packets = 2, .reply_bytes = 50, .reply_packets = 1};
  const CtCounters b{.orig_bytes = 350, .orig_packets = 5, .reply_bytes = 80, .reply_packets = 3};
  EXPECT_EQ(counterDelta(a, b), (CtCounters{.orig_bytes = 250, .orig_packets = 3, .reply_bytes = 30, .reply_packets = 2}));
  EXPECT_EQ(counterDelta(b, b), CtCounters{});
  EXPECT_EQ(counterDelta(CtCounters{}, b), b);
  // A counter went down: another conntrack on the tuple; all of it is new.
  const CtCounters c{.orig_bytes = 10, .orig_packets = 1, .reply_bytes = 90, .reply_packets = 4};
  EXPECT_EQ(counterDelta(b, c), c);
}

nl::CtEntry withState(nl::CtEntry e, uint8_t state) {
  e.tcp_state = state;
  return e;
}

TEST(Accounting, TcpStateOverEndsTheFlowOnceBeforeTheDestroy) {
  Accounting acc(opts(10));
  const auto t = v4("10.0.0.2", 40100, "192.0.2.10", 443);
  acc.track(decided("50", t, "NetFlix", "netflix-video", (kBase + 1) * kSec));
  // An update event (no counters) says TIME_WAIT: the counters come with a dump.
  nl::CtEntry upd = withState(entry(nl::CtEntry::Kind::Update, t, 0, 0, 0, 0, 501), nl::kTcpStateTimeWait);
  upd.has_counters = false;
  EXPECT_FALSE(acc.onConntrack(upd, (kBase + 3) * kSec));
  EXPECT_TRUE(acc.hasClosing());
  EXPECT_EQ(acc.takeClosing(), std::vector<nl::CtTuple>{t});
  EXPECT_FALSE(acc.hasClosing()) << "once";
  // An established dump entry is a sample, not an end.
  EXPECT_FALSE(acc.onConntrack(withState(entry(nl::CtEntry::Kind::Dump, t, 900, 9, 100, 4, 501), 3),
                               (kBase + 3) * kSec));
  auto ev = acc.onConntrack(withState(entry(nl::CtEntry::Kind::Dump, t, 1000, 10, 120, 6, 501), nl::kTcpStateTimeWait),
                            (kBase + 4) * kSec);
  ASSERT_TRUE(ev);
  const json j = json::parse(ev->json);
  EXPECT_EQ(j["event"], "flow_end");
  EXPECT_EQ(j["end_reason"], "fin");
  EXPECT_EQ(j["src_bytes"], 1000);
  EXPECT_EQ(j["dst_bytes"], 120);
  EXPECT_EQ(j["conntrack_id"], 501);
  EXPECT_EQ(acc.counters().tracked, 0u);
  // The dump sees it again while it lingers, then the destroy: nothing more.
  EXPECT_FALSE(acc.onConntrack(withState(entry(nl::CtEntry::Kind::Dump, t, 1000, 10, 120, 6, 501), nl::kTcpStateTimeWait),
                               (kBase + 5) * kSec));
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, t, 1000, 10, 120, 6, 501), (kBase + 124) * kSec));
  const auto c = acc.counters();
  EXPECT_EQ(c.ended, 1u);
  EXPECT_EQ(c.ended_early, 1u);
  EXPECT_EQ(c.late_destroys, 1u);
  EXPECT_EQ(c.unmatched_destroys, 0u);
}

TEST(Accounting, ResetEndsWithRst) {
  Accounting acc(opts(10));
  const auto t = v4("10.0.0.2", 40101, "192.0.2.10", 443);
  acc.track(decided("51", t, "TLS", "", (kBase + 1) * kSec));
  auto ev = acc.onConntrack(withState(entry(nl::CtEntry::Kind::Dump, t, 10, 1, 0, 0, 502), nl::kTcpStateClose),
                            (kBase + 2) * kSec);
  ASSERT_TRUE(ev);
  EXPECT_EQ(json::parse(ev->json)["end_reason"], "rst");
}

TEST(Accounting, UdpEntriesEndOnlyAtTheDestroy) {
  Accounting acc(opts(10));
  const auto t = v4("10.0.0.2", 5000, "192.0.2.10", 443, IPPROTO_UDP);
  acc.track(decided("52", t, "QUIC", "", (kBase + 1) * kSec));
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Dump, t, 10, 1, 20, 2, 503), (kBase + 2) * kSec));
  EXPECT_TRUE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, t, 10, 1, 20, 2, 503), (kBase + 40) * kSec));
}

TEST(Accounting, FlowStatsCarryIntervalDeltasAndTotals) {
  Accounting acc(opts(60));
  const auto t = v4("10.0.0.2", 40102, "192.0.2.10", 443);
  acc.track(decided("53", t, "NetFlix", "netflix-video", (kBase + 1) * kSec));
  EXPECT_TRUE(acc.stats((kBase + 2) * kSec).empty()) << "no sample yet";
  (void)acc.onConntrack(entry(nl::CtEntry::Kind::Dump, t, 1000, 10, 200, 5), (kBase + 3) * kSec);
  auto s1 = acc.stats((kBase + 3) * kSec);
  ASSERT_EQ(s1.size(), 1u);
  EXPECT_EQ(s1[0].topic, ctl::Topic::FlowStats);
  json j = json::parse(s1[0].json);
  EXPECT_EQ(j["event"], "flow_stats");
  EXPECT_EQ(j["bytes"], 1200);
  EXPECT_EQ(j["interval"]["src_bytes"], 1000);
  EXPECT_EQ(j["interval"]["dst_bytes"], 200);
  EXPECT_DOUBLE_EQ(j["interval"]["seconds"].get<double>(), 2.0);
  (void)acc.onConntrack(entry(nl::CtEntry::Kind::Dump, t, 5000, 40, 300, 9), (kBase + 5) * kSec);
  auto s2 = acc.stats((kBase + 5) * kSec);
  ASSERT_EQ(s2.size(), 1u);
  j = json::parse(s2[0].json);
  EXPECT_EQ(j["bytes"], 5300);
  EXPECT_EQ(j["src_bytes"], 5000);
  EXPECT_EQ(j["interval"]["src_bytes"], 4000);
  EXPECT_EQ(j["interval"]["src_packets"], 30);
  EXPECT_EQ(j["interval"]["dst_bytes"], 100);
  EXPECT_EQ(j["interval"]["dst_packets"], 4);
  // Nothing moved: no flow_stats.
  EXPECT_TRUE(acc.stats((kBase + 7) * kSec).empty());
  EXPECT_EQ(acc.counters().stats, 2u);
}

TEST(Accounting, EndAllAtShutdownWithTheLastSample) {
  Accounting acc(opts(60));
  const auto t1 = v4("10.0.0.2", 40103, "192.0.2.10", 443);
  const auto t2 = v4("10.0.0.3", 40104, "192.0.2.10", 443);
  acc.track(decided("54", t1, "NetFlix", "", (kBase + 1) * kSec));
  acc.track(decided("55", t2, "TLS", "", (kBase + 1) * kSec));
  (void)acc.onConntrack(entry(nl::CtEntry::Kind::Dump, t1, 700, 7, 70, 3, 601), (kBase + 2) * kSec);
  auto ends = acc.endAll((kBase + 3) * kSec);
  ASSERT_EQ(ends.size(), 2u);
  std::map<std::string, json> by_id;
  for (const auto& e : ends) {
    const json j = json::parse(e.json);
    by_id[j["flow_id"].get<std::string>()] = j;
  }
  EXPECT_EQ(by_id["54"]["end_reason"], "shutdown");
  EXPECT_EQ(by_id["54"]["src_bytes"], 700);
  EXPECT_EQ(by_id["54"]["counted_by"], "conntrack");
  EXPECT_EQ(by_id["55"]["counted_by"], "none");
  EXPECT_EQ(acc.counters().tracked, 0u);
  EXPECT_EQ(acc.counters().ended_at_shutdown, 2u);
  // A destroy after the shutdown's end is not a second end.
  EXPECT_FALSE(acc.onConntrack(entry(nl::CtEntry::Kind::Destroy, t1, 800, 8, 80, 4, 601), (kBase + 4) * kSec));
  EXPECT_EQ(acc.counters().late_destroys, 1u);
}

}  // namespace
}  // namespace fg::daemon
