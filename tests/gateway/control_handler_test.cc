// The worker counters (FG_WORKER_COUNTERS): every entry is added up across
// workers and lands at its status path and its Prometheus family, and the
// kernel queue statistics parse.
#include "gateway/daemon/control_handler.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace fg::daemon {
namespace {

TEST(WorkerCounters, EveryCounterIsAddedUpAndExported) {
  nfq::WorkerCounters a, b;
  uint64_t v = 1;
  // A distinct value per counter, so a swapped path or metric shows.
#define FG_SET(name, ...) \
  a.name = v;             \
  b.name = v * 1000;      \
  ++v;
  FG_WORKER_COUNTERS(FG_SET)
#undef FG_SET
  const WorkerTotals t = addUp({&a, &b});
  nlohmann::json status;
  putWorkerStatus(status, t);
  ctl::Exposition out;
  appendWorkerMetrics(out, t);
  const std::string text = out.text();
  std::set<std::string> paths;
  v = 1;
#define FG_CHECK(name, source, path, metric, key, value, type, help)                                   \
  {                                                                                                  \
    const uint64_t want = v * 1001;                                                                  \
    EXPECT_EQ(t.name, want) << #name;                                                                \
    const std::string p = path, m = metric, k = key, val = value;                                    \
    if (!p.empty()) {                                                                                \
      EXPECT_TRUE(paths.insert(p).second) << "two counters at " << p;                                \
      EXPECT_EQ(status[nlohmann::json::json_pointer(p)], want) << p;                                 \
    }                                                                                                \
    if (!m.empty()) {                                                                                \
      const std::string line = m + (k.empty() ? "" : "{" + k + "=\"" + val + "\"}") + " " + std::to_string(want); \
      EXPECT_NE(text.find(line + "\n"), std::string::npos) << line << "\n" << text;                  \
      EXPECT_NE(text.find("# TYPE " + m + " "), std::string::npos) << m;                             \
    }                                                                                                \
    ++v;                                                                                             \
  }
  FG_WORKER_COUNTERS(FG_CHECK)
#undef FG_CHECK
  // One family header per metric name, even with several labelled samples.
  size_t pos = 0, headers = 0;
  while ((pos = text.find("# TYPE flowgate_flows_decided_total ", pos)) != std::string::npos) ++headers, ++pos;
  EXPECT_EQ(headers, 1u);
}

TEST(WorkerCounters, StatusKeepsItsShape) {
  WorkerTotals t;
  t.packets = 5;
  t.decided_accept = 2;
  t.observed = 3;
  nlohmann::json status{{"counters", {{"flows", {{"tracked", 9}}}}}};
  putWorkerStatus(status, t);
  EXPECT_EQ(status["counters"]["packets"], 5);
  EXPECT_EQ(status["counters"]["verdicts"]["accept"], 2);
  EXPECT_EQ(status["counters"]["flows"]["tracked"], 9) << "existing members stay";
  EXPECT_EQ(status["hints"]["first_packet"]["dns_observed"], 3);
}

TEST(KernelQueueStats, ParsesProcLines) {
  std::istringstream in(
      "    0  12345     3 2 65531     7     9        0  1\n"
      "    1  12346     0 2 65531     0     0        0  1\n"
      "garbage\n");
  const auto s = nfq::parseKernelQueueStats(in);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.at(0).waiting, 3u);
  EXPECT_EQ(s.at(0).dropped, 7u);
  EXPECT_EQ(s.at(0).user_dropped, 9u);
  EXPECT_EQ(s.at(1).dropped, 0u);
}

}  // namespace
}  // namespace fg::daemon
