// daemon::ProgressCheck and the watchdog's environment: the decision to send
// WATCHDOG=1 from the workers' and the control thread's heartbeats.
#include "gateway/daemon/watchdog.h"

#include <gtest/gtest.h>

#include <vector>

namespace fg::daemon {
namespace {

using Stall = ProgressCheck::Stall;

TEST(WatchdogInterval, FollowsSystemdEnvironment) {
  EXPECT_EQ(watchdogIntervalUs("30000000", nullptr, 42), 30'000'000u);
  EXPECT_EQ(watchdogIntervalUs("30000000", "", 42), 30'000'000u);
  EXPECT_EQ(watchdogIntervalUs("30000000", "42", 42), 30'000'000u);
  // Meant for another process (e.g. inherited from a parent service).
  EXPECT_EQ(watchdogIntervalUs("30000000", "41", 42), std::nullopt);
  EXPECT_EQ(watchdogIntervalUs(nullptr, nullptr, 42), std::nullopt);
  EXPECT_EQ(watchdogIntervalUs("", nullptr, 42), std::nullopt);
  EXPECT_EQ(watchdogIntervalUs("0", nullptr, 42), std::nullopt);
  EXPECT_EQ(watchdogIntervalUs("30s", nullptr, 42), std::nullopt);
  EXPECT_EQ(watchdogIntervalUs("-5", nullptr, 42), std::nullopt);
  EXPECT_EQ(watchdogIntervalUs("1000000", "x42", 42), std::nullopt);
}

TEST(WatchdogInterval, TicksAtHalfTheIntervalAtMostEverySecond) {
  EXPECT_EQ(watchdogTickUs(std::nullopt), 1'000'000u);
  EXPECT_EQ(watchdogTickUs(30'000'000), 1'000'000u);
  EXPECT_EQ(watchdogTickUs(1'000'000), 500'000u);
  EXPECT_EQ(watchdogTickUs(1'500'000), 750'000u);
  EXPECT_EQ(watchdogTickUs(20'000), 50'000u);  // a floor: never a busy loop
}

TEST(ProgressCheck, PingsWhileEveryHeartbeatMoves) {
  ProgressCheck pc(2, 0);
  std::vector<uint64_t> w{5, 7};
  auto o = pc.check(w, 1, 500);
  EXPECT_TRUE(o.ping);
  EXPECT_TRUE(o.stalled.empty());
  w = {6, 9};
  o = pc.check(w, 2, 1000);
  EXPECT_TRUE(o.ping);
  EXPECT_TRUE(pc.stalled().empty());
}

TEST(ProgressCheck, OneStuckWorkerStopsThePingsAndIsReportedOnce) {
  ProgressCheck pc(3, 0);
  std::vector<uint64_t> w{1, 1, 1};
  ASSERT_TRUE(pc.check(w, 1, 500).ping);
  w = {2, 1, 2};  // worker 1 did not move
  auto o = pc.check(w, 2, 1000);
  EXPECT_FALSE(o.ping);
  EXPECT_EQ(o.stalled, (std::vector<Stall>{{1, 500}}));
  EXPECT_EQ(pc.stalled(), std::vector<int>{1});
  w = {3, 1, 3};
  o = pc.check(w, 3, 1500);
  EXPECT_FALSE(o.ping);
  EXPECT_TRUE(o.stalled.empty()) << "a stall is reported once";
  // It moves again: reported recovered with how long it was stuck; pings resume.
  w = {4, 2, 4};
  o = pc.check(w, 4, 2000);
  EXPECT_TRUE(o.ping);
  EXPECT_EQ(o.recovered, (std::vector<Stall>{{1, 1500}}));
  EXPECT_TRUE(pc.stalled().empty());
}

TEST(ProgressCheck, AStuckControlThreadStopsThePings) {
  ProgressCheck pc(1, 0);
  std::vector<uint64_t> w{1};
  ASSERT_TRUE(pc.check(w, 1, 100).ping);
  w = {2};
  auto o = pc.check(w, 1, 200);
  EXPECT_FALSE(o.ping);
  EXPECT_EQ(o.stalled, (std::vector<Stall>{{ProgressCheck::kControl, 100}}));
}

TEST(ProgressCheck, AWorkerThatNeverRanIsStalled) {
  ProgressCheck pc(2, 1000);
  std::vector<uint64_t> w{3, 0};
  auto o = pc.check(w, 1, 1500);
  EXPECT_FALSE(o.ping);
  EXPECT_EQ(o.stalled, (std::vector<Stall>{{1, 500}}));
}

TEST(ProgressCheck, MissingHeartbeatsNeverPing) {
  ProgressCheck pc(2, 0);
  std::vector<uint64_t> w{1};
  EXPECT_FALSE(pc.check(w, 1, 100).ping);
}

TEST(ProgressCheck, NoWorkersDependsOnTheControlThreadOnly) {
  ProgressCheck pc(0, 0);
  EXPECT_TRUE(pc.check({}, 1, 100).ping);
  EXPECT_FALSE(pc.check({}, 1, 200).ping);
}

}  // namespace
}  // namespace fg::daemon
