// daemon::Outputs helpers (which events a sink wants, in which format) and
// mqtt::MqttSink's queue/spool accounting without a broker. The sink tests
// run in a private network namespace (tests/netlink/netns_child.h): the
// broker address is unreachable there, and nothing leaves the namespace.
#include "gateway/daemon/outputs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/netlink/netns_child.h"

namespace fg::daemon {
namespace {

using nl::testing::inNetns;
using nl::testing::Log;

ctl::Event flowEvent(std::string app, std::string verdict, std::string rule) {
  ctl::Event e;
  e.topic = ctl::Topic::Flow;
  e.application = std::move(app);
  e.verdict = std::move(verdict);
  e.rule = std::move(rule);
  e.json = R"({"event":"flow","ts":1.5,"flow_id":"7","ip_version":4,"proto":"tcp","src_ip":"10.1.0.2",)"
           R"("src_port":40000,"dst_ip":"10.9.9.9","dst_port":443,"l7_protocol":"TLS","application":"NetFlix",)"
           R"("category":"Video","hostname":"www.netflix.com","packets":3,"bytes":2000,"src_packets":2,)"
           R"("src_bytes":1000,"dst_packets":1,"dst_bytes":1000,"first_seen":1.0,"last_seen":1.5,)"
           R"("dpi_packets":3,"confidence":"dpi","verdict":"accept","rule":null,"mark":2147483648})";
  return e;
}

TEST(SinkWants, EventsAndFilters) {
  mqtt::SinkConfig all;
  EXPECT_TRUE(sinkWants(all, flowEvent("NetFlix", "accept", "")));
  ctl::Event log;
  log.topic = ctl::Topic::Log;
  EXPECT_FALSE(sinkWants(all, log)) << "log lines never go to a sink";

  mqtt::SinkConfig blocked;
  blocked.verdicts = {"drop", "reject"};
  EXPECT_FALSE(sinkWants(blocked, flowEvent("NetFlix", "accept", "")));
  EXPECT_TRUE(sinkWants(blocked, flowEvent("NetFlix", "reject", "weak")));

  mqtt::SinkConfig apps;
  apps.applications = {"netflix", "YouTube"};
  EXPECT_TRUE(sinkWants(apps, flowEvent("NetFlix", "accept", ""))) << "case-insensitive";
  EXPECT_FALSE(sinkWants(apps, flowEvent("Zoom", "accept", "")));

  mqtt::SinkConfig rules;
  rules.rules = {"weak"};
  EXPECT_TRUE(sinkWants(rules, flowEvent("TLS", "reject", "weak")));
  EXPECT_FALSE(sinkWants(rules, flowEvent("TLS", "reject", "other")));

  mqtt::SinkConfig flows_only;
  flows_only.events = {"flow"};
  ctl::Event end = flowEvent("NetFlix", "accept", "");
  end.topic = ctl::Topic::FlowEnd;
  EXPECT_FALSE(sinkWants(flows_only, end));

  ctl::Event agg;
  agg.topic = ctl::Topic::Aggregate;
  agg.application = "NetFlix";
  EXPECT_TRUE(sinkWants(all, agg));
  EXPECT_TRUE(sinkWants(apps, agg)) << "aggregates pass the applications filter by theirs";
  agg.application.clear();
  EXPECT_FALSE(sinkWants(apps, agg)) << "a total has no application";
  EXPECT_TRUE(sinkWants(blocked, agg)) << "verdict filters are for flows";
}

TEST(NetifyMessages, TheAgentsLifecycle) {
  output::NetifyOptions n;
  n.local_networks = {"10.1.0.0/16"};
  // A decision: the flow as first seen, then the classification.
  auto m = netifyMessages(flowEvent("NetFlix", "accept", ""), n);
  ASSERT_EQ(m.size(), 2u);
  const auto first = nlohmann::json::parse(m[0]);
  const auto dpi = nlohmann::json::parse(m[1]);
  EXPECT_EQ(first["type"], "flow");
  EXPECT_EQ(first["flow"]["detected_application_name"], "Unknown");
  EXPECT_FALSE(first["flow"].contains("host_server_name"));
  EXPECT_EQ(dpi["type"], "flow_dpi_complete");
  EXPECT_EQ(dpi["flow"]["detected_application_name"], "NetFlix");
  EXPECT_EQ(dpi["flow"]["host_server_name"], "www.netflix.com");
  EXPECT_EQ(first["flow"]["digest"], dpi["flow"]["digest"]);
  // flow_stats: the interval per side, the totals.
  ctl::Event st = flowEvent("NetFlix", "accept", "");
  st.topic = ctl::Topic::FlowStats;
  auto r = nlohmann::json::parse(st.json);
  r["event"] = "flow_stats";
  r["bytes"] = 9000;
  r["packets"] = 30;
  r["interval"] = {{"seconds", 2.0}, {"src_bytes", 5000}, {"src_packets", 10}, {"dst_bytes", 700}, {"dst_packets", 6}};
  st.json = r.dump();
  m = netifyMessages(st, n);
  ASSERT_EQ(m.size(), 1u);
  const auto s = nlohmann::json::parse(m[0]);
  EXPECT_EQ(s["type"], "flow_stats");
  EXPECT_EQ(s["flow"]["local_bytes"], 5000);
  EXPECT_EQ(s["flow"]["other_bytes"], 700);
  EXPECT_EQ(s["flow"]["local_packets"], 10);
  EXPECT_EQ(s["flow"]["total_bytes"], 9000);
  EXPECT_EQ(s["flow"]["digest"], dpi["flow"]["digest"]);
  // flow_end: flow_purge.
  ctl::Event end = flowEvent("NetFlix", "accept", "");
  end.topic = ctl::Topic::FlowEnd;
  r = nlohmann::json::parse(end.json);
  r["event"] = "flow_end";
  r["end_reason"] = "fin";
  end.json = r.dump();
  m = netifyMessages(end, n);
  ASSERT_EQ(m.size(), 1u);
  const auto p = nlohmann::json::parse(m[0]);
  EXPECT_EQ(p["type"], "flow_purge");
  EXPECT_EQ(p["reason"], "closed");
  EXPECT_EQ(p["flow"]["digest"], dpi["flow"]["digest"]);
  // Nothing for aggregates or garbage.
  ctl::Event agg;
  agg.topic = ctl::Topic::Aggregate;
  agg.json = R"({"event":"aggregate"})";
  EXPECT_TRUE(netifyMessages(agg, n).empty());
  end.json = "not json";
  EXPECT_TRUE(netifyMessages(end, n).empty());
}

TEST(NetifyAgent, HelloAndStatus) {
  const auto h = nlohmann::json::parse(netifyAgentHello(5));
  EXPECT_EQ(h["type"], "agent_hello");
  EXPECT_TRUE(h["agent_version"].is_string());
  AgentFacts f;
  f.now_ms = 1'700'000'000'123;
  f.uptime_s = 12;
  f.update_interval_s = 15;
  f.flows = 4;
  f.flows_prev = 3;
  const auto s = nlohmann::json::parse(netifyAgentStatus(f));
  EXPECT_EQ(s["type"], "agent_status");
  EXPECT_EQ(s["timestamp"], 1'700'000'000);
  EXPECT_EQ(s["uptime"], 12);
  EXPECT_EQ(s["update_interval"], 15);
  EXPECT_EQ(s["flow_count"], 4);
  EXPECT_EQ(s["flow_count_prev"], 3);
}

TEST(SinkPayload, FlowgateOrNetify) {
  mqtt::SinkConfig s;
  const ctl::Event e = flowEvent("NetFlix", "accept", "");
  EXPECT_EQ(sinkPayload(s, e, {}), e.json) << "flowgate records go out as they are";
  s.format = "netify";
  output::NetifyOptions n;
  n.local_networks = {"10.1.0.0/16"};
  const auto p = sinkPayload(s, e, n);
  ASSERT_TRUE(p);
  const auto j = nlohmann::json::parse(*p);
  EXPECT_EQ(j["type"], "flow");
  EXPECT_EQ(j["flow"]["local_ip"], "10.1.0.2");
  EXPECT_EQ(j["flow"]["host_server_name"], "www.netflix.com");
  ctl::Event agg;
  agg.topic = ctl::Topic::Aggregate;
  agg.json = R"({"event":"aggregate","application":"NetFlix"})";
  EXPECT_FALSE(sinkPayload(s, agg, n)) << "no netify form for aggregates";
  agg.json = "not json";
  EXPECT_FALSE(sinkPayload(s, agg, n));
}

TEST(MqttSink, TopicTemplate) {
  inNetns([](Log& log) {
    mqtt::SinkConfig c;
    c.name = "s1";
    c.port = 1;  // nothing listens in this namespace
    c.topic = "fg/{hostname}/{name}/{event}/{application}";
    auto s = mqtt::MqttSink::start(c, "gw.lab");
    KCHECK(log, s.ok(), s.ok() ? "" : s.error().message());
    if (!s.ok()) return;
    KCHECK(log, (*s)->topicFor("flow", "NetFlix") == "fg/gw.lab/s1/flow/NetFlix", (*s)->topicFor("flow", "NetFlix"));
    // Wildcards and separators from the wire never reach the topic.
    KCHECK(log, (*s)->topicFor("flow", "a/b+#") == "fg/gw.lab/s1/flow/a_b__", (*s)->topicFor("flow", "a/b+#"));
  });
}

TEST(MqttSink, QueueDropsAndCountsWithoutABroker) {
  inNetns([](Log& log) {
    mqtt::SinkConfig c;
    c.name = "q";
    c.port = 1;
    c.queue_events = 3;
    auto s = mqtt::MqttSink::start(c, "gw");
    KCHECK(log, s.ok(), "start");
    if (!s.ok()) return;
    for (int i = 0; i < 5; ++i) (*s)->offer("flow", "", "{\"n\":" + std::to_string(i) + "}");
    mqtt::SinkCounters k = (*s)->counters();
    KCHECK(log, !k.connected, "connected to nothing?");
    KCHECK(log, k.produced == 5 && k.queued == 3 && k.dropped == 2, "queue accounting");
    (*s)->stop(0);
    k = (*s)->counters();
    KCHECK(log, k.produced == k.delivered + k.dropped && k.dropped == 5, "stop: what is left is dropped");
  });
}

TEST(MqttSink, SpoolKeepsWhatMemoryCannotAndSurvivesARestart) {
  inNetns([](Log& log) {
    const std::string spool =
        (std::filesystem::temp_directory_path() / ("fg-spool-" + std::to_string(getpid()) + ".jsonl")).string();
    std::filesystem::remove(spool);
    mqtt::SinkConfig c;
    c.name = "sp";
    c.port = 1;
    c.queue_events = 2;
    c.spool_file = spool;
    c.spool_max_bytes = 4096;
    {
      auto s = mqtt::MqttSink::start(c, "gw");
      KCHECK(log, s.ok(), "start");
      if (!s.ok()) return;
      for (int i = 0; i < 5; ++i) (*s)->offer("flow", "", "{\"n\":" + std::to_string(i) + "}");
      // Bigger than what the spool may still take: dropped, counted.
      (*s)->offer("flow", "", std::string(5000, 'x'));
      const mqtt::SinkCounters k = (*s)->counters();
      KCHECK(log, k.queued == 2 && k.spooled == 3 && k.spool_waiting == 3 && k.dropped == 1, "spool accounting");
      (*s)->stop(0);
      // The memory queue is kept in the spool too, in front (oldest first).
      const mqtt::SinkCounters after = (*s)->counters();
      KCHECK(log, after.spool_waiting == 5 && after.dropped == 1 && after.queued == 0, "stop accounting");
      KCHECK(log, after.produced == after.delivered + after.dropped + after.spool_waiting, "identity");
    }
    std::ifstream in(spool);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
      KCHECK(log, line.rfind("flowgate/gw/flow\t{\"n\":", 0) == 0, "spool line: " + line);
      ++lines;
    }
    KCHECK(log, lines == 5, "spool lines: " + std::to_string(lines));
    // The next start picks the spool up to replay it.
    auto again = mqtt::MqttSink::start(c, "gw");
    KCHECK(log, again.ok() && (*again)->counters().spool_waiting == 5, "spool not picked up");
    if (again.ok()) (*again)->stop(0);
    std::filesystem::remove(spool);
  });
}

TEST(MqttSink, StopKeepsTheQueueInTheSpoolAndAPartialLineIsCutOff) {
  inNetns([](Log& log) {
    const std::string spool =
        (std::filesystem::temp_directory_path() / ("fg-spool2-" + std::to_string(getpid()) + ".jsonl")).string();
    {  // a spool a crash left: two lines and half a third
      std::ofstream f(spool, std::ios::trunc);
      f << "t/flow\t{\"n\":1}\nt/flow\t{\"n\":2}\nt/flow\t{\"n\":";
    }
    mqtt::SinkConfig c;
    c.name = "sp2";
    c.port = 1;
    c.queue_events = 4;
    c.spool_file = spool;
    auto s = mqtt::MqttSink::start(c, "gw");
    KCHECK(log, s.ok(), "start");
    if (!s.ok()) return;
    mqtt::SinkCounters k = (*s)->counters();
    KCHECK(log, k.spool_waiting == 2 && k.produced == 2, "picked up " + std::to_string(k.spool_waiting));
    // Behind the spool (order): these go to the spool too.
    for (int i = 3; i <= 4; ++i) (*s)->offer("flow", "", "{\"n\":" + std::to_string(i) + "}");
    (*s)->stop(0);
    k = (*s)->counters();
    KCHECK(log, k.produced == 4 && k.dropped == 0 && k.spool_waiting == 4, "nothing lost at stop");
    KCHECK(log, std::filesystem::status(spool).permissions() ==
                    (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write),
           "spool readable by others");
    std::ifstream in(spool);
    std::string line, all;
    while (std::getline(in, line)) all += line.substr(line.find('\t') + 1) + ";";
    KCHECK(log, all == "{\"n\":1};{\"n\":2};{\"n\":3};{\"n\":4};", "spool after stop: " + all);
    std::filesystem::remove(spool);
  });
}

TEST(MqttSink, AnEmptyTopicIsDroppedNotRetried) {
  inNetns([](Log& log) {
    mqtt::SinkConfig c;
    c.name = "t";
    c.port = 1;
    c.topic = "{application}";
    auto s = mqtt::MqttSink::start(c, "gw");
    KCHECK(log, s.ok(), "start");
    if (!s.ok()) return;
    (*s)->offer("aggregate", "", "{}");
    const mqtt::SinkCounters k = (*s)->counters();
    KCHECK(log, k.produced == 1 && k.dropped == 1 && k.queued == 0, "empty topic");
  });
}

}  // namespace
}  // namespace fg::daemon

#include "gateway/daemon/netify_host.h"

namespace fg::daemon {
namespace {

InterfaceAddress ifa(const char* name, const char* ip, unsigned prefix, bool loopback = false) {
  return InterfaceAddress{.interface = name, .address = *core::IpAddress::parse(ip), .prefix = prefix,
                          .loopback = loopback};
}

TEST(HostNetworks, LanSideNetworksOwnAddressesAndLoopback) {
  const std::vector<InterfaceAddress> a = {ifa("lo", "127.0.0.1", 8, true), ifa("lan0", "192.168.1.1", 24),
                                           ifa("wan0", "203.0.113.2", 24), ifa("dmz0", "172.16.0.1", 24),
                                           ifa("lan0", "fd00:1::1", 64)};
  // Roles given: only the LAN interfaces' networks (and the host's own
  // non-WAN addresses) are local.
  HostNetworks h(a, {"lan0"}, {"wan0"});
  EXPECT_TRUE(h.onLan("127.0.0.1"));
  EXPECT_TRUE(h.onLan("192.168.1.77"));
  EXPECT_TRUE(h.onLan("fd00:1::42"));
  EXPECT_FALSE(h.onLan("203.0.113.9")) << "the WAN side's network is remote";
  EXPECT_FALSE(h.onLan("203.0.113.2")) << "so is the host's WAN address";
  EXPECT_TRUE(h.onLan("172.16.0.1")) << "the host's own address";
  EXPECT_FALSE(h.onLan("172.16.0.9")) << "not a LAN interface";
  EXPECT_FALSE(h.onLan("8.8.8.8"));
  EXPECT_FALSE(h.onLan("garbage"));
  // No LAN list: every interface but the WAN ones.
  HostNetworks all(a, {}, {"wan0"});
  EXPECT_TRUE(all.onLan("172.16.0.9"));
  EXPECT_FALSE(all.onLan("203.0.113.9"));
}

}  // namespace
}  // namespace fg::daemon
