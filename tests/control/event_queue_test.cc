#include "gateway/control/event_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace fg::ctl {
namespace {

TEST(EventQueue, CapacityRoundsUpAndDropsWhenFull) {
  EventQueue<int> q(5);
  EXPECT_EQ(q.capacity(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(q.tryPush(i));
  EXPECT_FALSE(q.tryPush(99));
  EXPECT_EQ(q.dropped(), 1u);
  std::vector<int> out;
  EXPECT_EQ(q.drain(out, 3), 3u);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(q.tryPush(8));
  EXPECT_EQ(q.drain(out), 6u);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(q.drain(out), 0u);
  EXPECT_EQ(q.pushed(), 9u);
}

TEST(EventQueue, MovesOwningTypes) {
  EventQueue<std::string> q(2);
  std::string s(1000, 'a');
  EXPECT_TRUE(q.tryPush(std::move(s)));
  std::string keep = "kept";
  EXPECT_TRUE(q.tryPush(std::string("b")));
  EXPECT_FALSE(q.tryPush(keep));
  EXPECT_EQ(keep, "kept");  // a dropped item is left unchanged
  std::vector<std::string> out;
  q.drain(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].size(), 1000u);
}

// Several producers push as fast as they can into a small queue while one
// consumer drains: every item is either drained or counted as dropped, and
// each producer's items arrive in the order it pushed them.
TEST(EventQueue, MultiProducerStressCountsDropsAndKeepsPerProducerOrder) {
  struct Item {
    uint32_t producer = 0;
    uint64_t seq = 0;
  };
  constexpr int kProducers = 4;
  constexpr uint64_t kPerProducer = 200'000;
  EventQueue<Item> q(256);
  std::atomic<int> running{kProducers};
  std::vector<uint64_t> accepted(kProducers, 0);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      uint64_t ok = 0;
      for (uint64_t i = 0; i < kPerProducer; ++i) {
        if (q.tryPush(Item{static_cast<uint32_t>(p), i})) ++ok;
      }
      accepted[p] = ok;
      running.fetch_sub(1);
    });
  }
  std::vector<int64_t> last(kProducers, -1);
  std::vector<uint64_t> received(kProducers, 0);
  std::vector<Item> batch;
  bool ordered = true;
  auto consume = [&] {
    batch.clear();
    q.drain(batch, 64);
    for (const Item& it : batch) {
      if (static_cast<int64_t>(it.seq) <= last[it.producer]) ordered = false;
      last[it.producer] = static_cast<int64_t>(it.seq);
      ++received[it.producer];
    }
  };
  while (running.load() > 0) consume();
  for (auto& t : producers) t.join();
  do consume();
  while (!batch.empty());

  uint64_t total_received = 0, total_accepted = 0;
  for (int p = 0; p < kProducers; ++p) {
    EXPECT_EQ(received[p], accepted[p]) << "producer " << p;
    total_received += received[p];
    total_accepted += accepted[p];
  }
  EXPECT_TRUE(ordered);
  EXPECT_EQ(q.pushed(), total_accepted);
  EXPECT_EQ(q.pushed() + q.dropped(), kProducers * kPerProducer);
  EXPECT_GT(q.dropped(), 0u);  // a 256-slot queue cannot keep up with 4 busy producers
  EXPECT_GT(total_received, 0u);
}

}  // namespace
}  // namespace fg::ctl
