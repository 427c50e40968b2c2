// daemon::EventRouter: decisions become flow events that accounting tracks
// and every sink sees, by topic; log lines become `log` events; a full queue
// drops and counts instead of blocking.
#include "gateway/daemon/event_router.h"

#include <netinet/in.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace fg::daemon {
namespace {

std::shared_ptr<const policy::PolicySet> policyWithRule() {
  const std::vector<policy::PolicySource> sources{{"p.toml", R"(
[policy]
default_action = "accept"

[[rule]]
name = "block-video"
match = { hostname = "video.example" }
action = "drop"
)"}};
  auto p = policy::compilePolicy(sources, policy::LoadOptions{}, 1);
  EXPECT_TRUE(p.ok());
  return p.value();
}

std::unique_ptr<core::Flow> makeFlow(uint64_t id) {
  auto f = std::make_unique<core::Flow>();
  f->id = id;
  f->src = *core::IpAddress::parse("10.0.0.2");
  f->dst = *core::IpAddress::parse("192.0.2.10");
  f->src_port = 40000;
  f->dst_port = 443;
  f->proto = IPPROTO_TCP;
  f->cls.application = "YouTube";
  f->first_seen = f->last_seen = 1'700'000'000'000'000;
  return f;
}

Accounting makeAccounting() {
  return Accounting(ctl::Aggregator::Options{.interval_s = 60, .per_address = false, .per_rule = false,
                                             .start_us = 1'700'000'000'000'000});
}

TEST(EventRouter, DecisionsReachAccountingAndSinksByTopic) {
  Accounting acct = makeAccounting();
  EventRouter router(acct);
  std::vector<ctl::Event> all, logs_only;
  router.addSink([&](const ctl::Event& e) { all.push_back(e); });
  router.addSink([&](const ctl::Event& e) { logs_only.push_back(e); },
                 uint64_t{1} << static_cast<unsigned>(ctl::Topic::Log));
  auto p = policyWithRule();
  policy::Decision d;
  d.verdict = policy::Verdict::Drop;
  d.rule = 0;
  auto f = makeFlow(7);
  router.onDecided(*f, d, *p, "eth0");
  EXPECT_TRUE(all.empty()) << "nothing leaves before drain()";
  router.drain();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].topic, ctl::Topic::Flow);
  EXPECT_EQ(all[0].rule, "block-video");
  EXPECT_EQ(all[0].verdict, "drop");
  EXPECT_EQ(all[0].src, "10.0.0.2");
  const auto record = nlohmann::json::parse(all[0].json);
  EXPECT_EQ(record["rule"], "block-video");
  EXPECT_TRUE(logs_only.empty());
  EXPECT_EQ(acct.counters().tracked, 1u);
  size_t tracked = 0;
  acct.forEachTracked([&](const DecidedFlow& t) {
    ++tracked;
    EXPECT_EQ(t.flow_id, "7");
    EXPECT_EQ(t.attrs.rule, "block-video");
  });
  EXPECT_EQ(tracked, 1u);
}

// Health reaches the aggregates two ways: with the decision of a decided
// flow, and at the end of a flow that was never decided (a refused SYN).
TEST(EventRouter, HealthOfDecidedAndUndecidedFlowsReachesTheAggregates) {
  Accounting acct = makeAccounting();
  EventRouter router(acct);
  auto p = policyWithRule();
  auto f = makeFlow(7);
  f->health.syn = f->first_seen;
  f->health.syn_ack = f->first_seen + 40'000;
  f->health.client_next = f->first_seen + 41'000;
  router.onDecided(*f, policy::Decision{}, *p, "");
  core::EndedFlow refused{.id = 9, .reason = core::EndReason::Rst, .packets = 2, .bytes = 100,
                          .decided = false, .health = {}, .application = "Unknown", .src = f->src,
                          .first_seen = f->first_seen};
  refused.health.failure = core::HealthFailure::Refused;
  refused.health.resets = 2;
  router.onUndecidedEnd(refused);
  core::EndedFlow decided = refused;
  decided.decided = true;  // its figures went with the decision: not counted twice
  router.onUndecidedEnd(decided);
  router.drain();
  const auto& totals = acct.aggregator().healthTotals();
  ASSERT_TRUE(totals.count("YouTube"));
  EXPECT_EQ(totals.at("YouTube").handshake.count, 1u);
  EXPECT_EQ(totals.at("YouTube").handshake_server.sum_s, 0.04);
  ASSERT_TRUE(totals.count("Unknown"));
  EXPECT_EQ(totals.at("Unknown").failures[0], 1u);
  EXPECT_EQ(totals.at("Unknown").resets_server, 1u);
  const auto rows = acct.close(1'700'000'000'000'000 + 120'000'000);
  const ctl::AggregateRow* yt = nullptr;
  for (const auto& r : rows)
    if (r.by == ctl::AggregateBy::Application && r.key == "YouTube") yt = &r;
  ASSERT_TRUE(yt && yt->health);
  EXPECT_EQ(yt->health->handshake.percentile(0.5), 41'000);
  EXPECT_EQ(yt->counters.flows_new, 1u);
}

TEST(EventRouter, LogLinesBecomeLogEvents) {
  Accounting acct = makeAccounting();
  EventRouter router(acct);
  std::vector<ctl::Event> seen;
  router.addSink([&](const ctl::Event& e) { seen.push_back(e); });
  EventRouter::logSink(log::Level::Warn, "something happened", &router);
  router.drain();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].topic, ctl::Topic::Log);
  const auto j = nlohmann::json::parse(seen[0].json);
  EXPECT_EQ(j["event"], "log");
  EXPECT_EQ(j["message"], "something happened");
  EXPECT_EQ(acct.counters().tracked, 0u);
}

TEST(EventRouter, AFullQueueDropsAndCounts) {
  Accounting acct = makeAccounting();
  EventRouter router(acct, 4);
  auto p = policyWithRule();
  policy::Decision d;
  for (uint64_t i = 1; i <= 10; ++i) router.onDecided(*makeFlow(i), d, *p, "");
  std::vector<ctl::Event> seen;
  router.addSink([&](const ctl::Event& e) { seen.push_back(e); });
  router.drain();
  EXPECT_EQ(seen.size() + router.dropped(), 10u);
  EXPECT_GE(router.dropped(), 1u);
}

}  // namespace
}  // namespace fg::daemon
