#include "gateway/control/subscriber.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace fg::ctl {
namespace {

EventFilter filt(const std::string& app, const std::string& addr = "", const std::string& rule = "") {
  EventFilter f;
  f.application = app;
  f.address = addr;
  f.rule = rule;
  return f;
}

std::string ev(int i) { return "{\"event\":\"flow\",\"n\":" + std::to_string(i) + "}"; }

std::vector<std::string> drainAll(SubscriberQueue& q) {
  std::vector<std::string> out;
  while (auto l = q.pop()) out.push_back(*l);
  return out;
}

TEST(SubscriberQueue, DeliversInOrderWithNewline) {
  SubscriberQueue q(4, 1 << 20);
  EXPECT_TRUE(q.push(ev(1)));
  EXPECT_TRUE(q.push(ev(2) + "\n"));
  EXPECT_EQ(drainAll(q), (std::vector<std::string>{ev(1) + "\n", ev(2) + "\n"}));
  EXPECT_EQ(q.dropped(), 0u);
  EXPECT_EQ(q.delivered(), 2u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.pop().has_value());
}

TEST(SubscriberQueue, DropsWhenFullAndReportsMissedAtTheGap) {
  SubscriberQueue q(3, 1 << 20);
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(q.push(ev(i)));
  for (int i = 4; i <= 8; ++i) EXPECT_FALSE(q.push(ev(i)));  // 5 dropped
  EXPECT_EQ(q.dropped(), 5u);
  EXPECT_EQ(q.queuedEvents(), 3u);
  // The reader catches up a little; the next event that fits comes after the notice.
  EXPECT_EQ(*q.pop(), ev(1) + "\n");
  EXPECT_TRUE(q.push(ev(9)));
  EXPECT_EQ(drainAll(q), (std::vector<std::string>{ev(2) + "\n", ev(3) + "\n",
                                                   "{\"event\":\"missed\",\"count\":5}\n", ev(9) + "\n"}));
  // A second gap is reported separately, with its own count.
  for (int i = 10; i <= 12; ++i) EXPECT_TRUE(q.push(ev(i)));
  EXPECT_FALSE(q.push(ev(13)));
  EXPECT_FALSE(q.push(ev(14)));
  auto rest = drainAll(q);
  ASSERT_EQ(rest.size(), 4u);  // 3 events and the notice when the queue ran dry
  EXPECT_EQ(rest.back(), "{\"event\":\"missed\",\"count\":2}\n");
  EXPECT_EQ(q.dropped(), 7u);
  EXPECT_EQ(q.delivered(), 7u);
  EXPECT_TRUE(q.empty());
}

TEST(SubscriberQueue, ByteBound) {
  SubscriberQueue q(1000, 100);
  const std::string big(60, 'x');
  EXPECT_TRUE(q.push(big));
  EXPECT_FALSE(q.push(big));  // 61 + 61 > 100
  EXPECT_EQ(q.queuedBytes(), 61u);
  EXPECT_FALSE(q.push(std::string(200, 'y')));  // never fits
  EXPECT_EQ(q.dropped(), 2u);
  (void)q.pop();
  EXPECT_EQ(q.queuedBytes(), 0u);
  EXPECT_TRUE(q.push(big));
}

TEST(SubscriberQueue, NoticeCountsAddUpToDrops) {
  SubscriberQueue q(8, 1 << 20);
  uint64_t delivered = 0, missed = 0;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 13; ++i) (void)q.push(ev(i));
    for (int i = 0; i < 5; ++i) {
      auto l = q.pop();
      if (!l) break;
      auto j = nlohmann::json::parse(*l);
      if (j["event"] == "missed") missed += j["count"].get<uint64_t>();
      else ++delivered;
    }
  }
  for (const auto& l : drainAll(q)) {
    auto j = nlohmann::json::parse(l);
    if (j["event"] == "missed") missed += j["count"].get<uint64_t>();
    else ++delivered;
  }
  EXPECT_EQ(delivered + missed, 1300u);
  EXPECT_EQ(missed, q.dropped());
  EXPECT_GT(missed, 0u);
}

TEST(Subscription, TopicsAndFilter) {
  Subscription s{.topics = {Topic::FlowEnd, Topic::Aggregate}, .filter = filt("Netflix")};
  Event e{.topic = Topic::FlowEnd, .application = "netflix", .src = "a", .dst = "b", .rule = "", .json = "{}", .verdict = ""};
  EXPECT_TRUE(s.wants(e));
  e.topic = Topic::Flow;
  EXPECT_FALSE(s.wants(e));
  e.topic = Topic::Aggregate;
  e.application = "YouTube";
  EXPECT_FALSE(s.wants(e));
}

}  // namespace
}  // namespace fg::ctl
