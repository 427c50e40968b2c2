// The daemon configuration loader: strict, located, complete error reports.
#include "gateway/config.h"

#include <gtest/gtest.h>

namespace fg::cli {
namespace {

TEST(Config, ShippedExampleLoadsWithDefaults) {
  ConfigLoad l = loadConfig(std::string(FLOWGATE_SOURCE_DIR) + "/config/flowgate.toml");
  ASSERT_TRUE(l.errors.empty()) << formatConfigError("flowgate.toml", l.errors.front());
  const Config d;  // defaults
  EXPECT_EQ(l.config.workers, d.workers);
  EXPECT_EQ(l.config.packet_budget, 32);
  EXPECT_EQ(l.config.marks.decided, 0x80000000u);
  EXPECT_EQ(l.config.marks.value_mask, 0xffffu);
  EXPECT_EQ(l.config.policy_paths, std::vector<std::string>{"/etc/flowgate/policies"});
  EXPECT_EQ(l.config.timeouts.udp, 60 * core::kSecond);
}

TEST(Config, EmptyFileIsAllDefaults) {
  ConfigLoad l = parseConfig("", "empty.toml");
  EXPECT_TRUE(l.errors.empty());
  EXPECT_TRUE(l.config.fail_open);
  EXPECT_EQ(l.config.failure.queue_full, core::FailureAction::Accept);
  EXPECT_EQ(l.config.failure.not_running, core::FailureAction::Accept);
  EXPECT_EQ(l.config.failure.undecodable, core::FailureAction::Accept);
  EXPECT_EQ(l.config.failure.internal_error, core::FailureAction::Accept);
}

TEST(Config, FailOpenIsTheShorthandForTheKernelSideFailures) {
  ConfigLoad l = parseConfig("[gateway]\nfail_open = false\n", "f.toml");
  ASSERT_TRUE(l.errors.empty());
  EXPECT_EQ(l.config.failure.queue_full, core::FailureAction::Drop);
  EXPECT_EQ(l.config.failure.not_running, core::FailureAction::Drop);
  EXPECT_EQ(l.config.failure.undecodable, core::FailureAction::Accept) << "flowgate's own conditions stay";
  EXPECT_EQ(l.config.failure.internal_error, core::FailureAction::Accept);
}

TEST(Config, FailureConditionsAreSetOneByOneAndBeatTheShorthand) {
  ConfigLoad l = parseConfig(R"(
[gateway]
fail_open = false
[failure]
not_running = "accept"
undecodable = "drop"
internal_error = "drop"
)", "f.toml");
  ASSERT_TRUE(l.errors.empty()) << formatConfigError("f.toml", l.errors.front());
  EXPECT_EQ(l.config.failure.queue_full, core::FailureAction::Drop);
  EXPECT_EQ(l.config.failure.not_running, core::FailureAction::Accept);
  EXPECT_EQ(l.config.failure.undecodable, core::FailureAction::Drop);
  EXPECT_EQ(l.config.failure.internal_error, core::FailureAction::Drop);
}

TEST(Config, ValuesAreRead) {
  ConfigLoad l = parseConfig(R"(
[gateway]
queue_num = 10
workers = 4
packet_budget = 16
interfaces = ["lan0", "lan1"]
fail_open = false

[marks]
decided = 0x8000
drop = 0x4000
reject = 0x2000
value_mask = 0x00ff

[nft]
table = "fg_test"

[policy]
path = "/tmp/p.toml"

[flows]
max_flows = 5000
udp_timeout = 20

[routing]
keep_first_route = false

[hints]
enabled = false
dns_entries = 100
min_ttl = 5
max_ttl = 50
learned_entries = 7
learned_ttl = 30
observe_dns = false
)",
                             "c.toml");
  ASSERT_TRUE(l.errors.empty()) << formatConfigError("c.toml", l.errors.front());
  EXPECT_EQ(l.config.queue_num, 10);
  EXPECT_EQ(l.config.workers, 4u);
  EXPECT_EQ(l.config.packet_budget, 16);
  EXPECT_EQ(l.config.interfaces, (std::vector<std::string>{"lan0", "lan1"}));
  EXPECT_FALSE(l.config.fail_open);
  EXPECT_EQ(l.config.marks.value_mask, 0xffu);
  EXPECT_EQ(l.config.table, "fg_test");
  EXPECT_EQ(l.config.policy_paths, std::vector<std::string>{"/tmp/p.toml"});
  EXPECT_EQ(l.config.max_flows, 5000u);
  EXPECT_EQ(l.config.timeouts.udp, 20 * core::kSecond);
  EXPECT_FALSE(l.config.keep_first_route);
  EXPECT_FALSE(l.config.hints.enabled);
  EXPECT_EQ(l.config.hints.dns.max_entries, 100u);
  EXPECT_EQ(l.config.hints.dns.min_ttl_s, 5u);
  EXPECT_EQ(l.config.hints.dns.max_ttl_s, 50u);
  EXPECT_EQ(l.config.hints.learned_entries, 7u);
  EXPECT_EQ(l.config.hints.learned_ttl_s, 30u);
  EXPECT_FALSE(l.config.observe_dns);
}

TEST(Config, MqttSinks) {
  ConfigLoad l = parseConfig(R"(
[output]
local_networks = ["10.0.0.0/8"]

[[output.mqtt]]
host = "broker.lan"
port = 8883
ca_file = "/etc/ssl/ca.pem"
cert_file = "/etc/flowgate/c.pem"
key_file = "/etc/flowgate/c.key"
username = "fg"
password = "secret"
topic = "net/{hostname}/{event}"
qos = 1
events = ["flow"]
verdicts = ["drop", "reject"]
format = "netify"
spool_file = "/var/spool/flowgate/mqtt.jsonl"

[[output.mqtt]]
name = "all"
)",
                             "c.toml");
  ASSERT_TRUE(l.errors.empty()) << formatConfigError("c.toml", l.errors.front());
  ASSERT_EQ(l.config.mqtt_sinks.size(), 2u);
  const mqtt::SinkConfig& a = l.config.mqtt_sinks[0];
  EXPECT_EQ(a.name, "mqtt0");
  EXPECT_EQ(a.host, "broker.lan");
  EXPECT_EQ(a.port, 8883);
  EXPECT_EQ(a.qos, 1);
  EXPECT_EQ(a.format, "netify");
  EXPECT_EQ(a.verdicts, (std::vector<std::string>{"drop", "reject"}));
  EXPECT_EQ(a.spool_file, "/var/spool/flowgate/mqtt.jsonl");
  EXPECT_EQ(l.config.mqtt_sinks[1].name, "all");
  EXPECT_EQ(l.config.mqtt_sinks[1].topic, "flowgate/{hostname}/{event}");
  EXPECT_EQ(l.config.local_networks, std::vector<std::string>{"10.0.0.0/8"});
}

TEST(Config, HintsAndRoutingDefaults) {
  ConfigLoad l = parseConfig("", "c.toml");
  ASSERT_TRUE(l.errors.empty());
  EXPECT_TRUE(l.config.keep_first_route);
  EXPECT_TRUE(l.config.hints.enabled);
  EXPECT_TRUE(l.config.observe_dns);
  EXPECT_EQ(l.config.hints.dns.max_entries, 65536u);
  EXPECT_EQ(l.config.hints.learned_ttl_s, 900u);
}

struct BadCase {
  const char* name;
  const char* text;
  int line;
  const char* key;
  const char* message_part;
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, IsAnErrorNamingLineAndKey) {
  const BadCase& c = GetParam();
  ConfigLoad l = parseConfig(c.text, "bad.toml");
  ASSERT_FALSE(l.errors.empty()) << c.text;
  const ConfigError& e = l.errors.front();
  EXPECT_EQ(e.line, c.line);
  EXPECT_EQ(e.key, c.key);
  EXPECT_NE(e.message.find(c.message_part), std::string::npos) << e.message;
  const std::string text = formatConfigError("bad.toml", e);
  EXPECT_EQ(text.rfind("bad.toml:" + std::to_string(c.line) + ":", 0), 0u) << text;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfig,
    ::testing::Values(
        BadCase{"UnknownSection", "[gatway]\nworkers = 1\n", 1, "gatway", "unknown key"},
        BadCase{"UnknownKey", "[gateway]\nworker = 2\n", 2, "gateway.worker", "unknown key"},
        BadCase{"WrongType", "[gateway]\nworkers = \"two\"\n", 2, "gateway.workers", "integer"},
        BadCase{"OutOfRange", "[gateway]\nworkers = 0\n", 2, "gateway.workers", "from 1 to 64"},
        BadCase{"BadBool", "[gateway]\nfail_open = 1\n", 2, "gateway.fail_open", "true or false"},
        BadCase{"BadFailureAction", "[failure]\nundecodable = \"reject\"\n", 2, "failure.undecodable",
                "\"accept\" or \"drop\""},
        BadCase{"UnknownFailure", "[failure]\nflow_table_full = \"drop\"\n", 2, "failure.flow_table_full",
                "unknown key"},
        BadCase{"BadLevel", "[gateway]\nlog_level = \"loud\"\n", 2, "gateway.log_level", "debug, info"},
        BadCase{"LongIfname", "[gateway]\ninterfaces = [\"a-very-long-interface\"]\n", 2,
                "gateway.interfaces", "1 to 15"},
        BadCase{"OverlappingMarks", "[marks]\ndecided = 0x1\ndrop = 0x2\nreject = 0x4\nvalue_mask = 0xff\n",
                1, "marks", "overlap"},
        BadCase{"TwoBitFlag", "[marks]\ndecided = 0x3\n", 1, "marks", "single bits"},
        BadCase{"BadTable", "[nft]\ntable = \"no spaces\"\n", 2, "nft.table", "letters"},
        BadCase{"EmptyPolicyPath", "[policy]\npath = []\n", 2, "policy.path", "at least one"},
        BadCase{"NotATable", "gateway = 3\n", 1, "gateway", "expected a table"},
        BadCase{"MqttNotArray", "[output]\nmqtt = 3\n", 2, "output.mqtt", "[[output.mqtt]]"},
        BadCase{"MqttQos", "[[output.mqtt]]\nqos = 2\n", 2, "output.mqtt[0].qos", "from 0 to 1"},
        BadCase{"MqttWildcardTopic", "[[output.mqtt]]\ntopic = \"a/#\"\n", 2, "output.mqtt[0].topic", "wildcards"},
        BadCase{"MqttFormat", "[[output.mqtt]]\nformat = \"xml\"\n", 2, "output.mqtt[0].format", "netify"},
        BadCase{"MqttCertWithoutKey", "[[output.mqtt]]\nca_file = \"/c\"\ncert_file = \"/x\"\n", 3,
                "output.mqtt[0].cert_file", "both"},
        BadCase{"MqttRelativeSpool", "[[output.mqtt]]\nspool_file = \"s.jsonl\"\n", 2, "output.mqtt[0].spool_file",
                "absolute"},
        BadCase{"MqttUnknownKey", "[[output.mqtt]]\nbroker = \"x\"\n", 2, "output.mqtt[0].broker", "unknown key"},
        BadCase{"MqttVerdict", "[[output.mqtt]]\nverdicts = [\"block\"]\n", 2, "output.mqtt[0].verdicts", "accept"},
        BadCase{"MqttDollarTopic", "[[output.mqtt]]\ntopic = \"$SYS/x\"\n", 2, "output.mqtt[0].topic", "not starting with $"},
        BadCase{"MqttPasswordAlone", "[[output.mqtt]]\npassword = \"p\"\n", 2, "output.mqtt[0].password", "username"},
        BadCase{"MqttNetifyAggregates", "[[output.mqtt]]\nformat = \"netify\"\nevents = [\"aggregate\"]\n", 3,
                "output.mqtt[0].events", "flow and flow_end"},
        BadCase{"MqttSharedSpool",
                "[[output.mqtt]]\nspool_file = \"/s\"\n[[output.mqtt]]\nspool_file = \"/s\"\n", 4,
                "output.mqtt[1].spool_file", "same file"},
        BadCase{"LocalNetworks", "[output]\nlocal_networks = [\"10.0.0.0/33\"]\n", 2, "output.local_networks", "CIDR"},
        BadCase{"HintsUnknownKey", "[hints]\nttl = 3\n", 2, "hints.ttl", "unknown key"},
        BadCase{"HintsTtlsCross", "[hints]\nmin_ttl = 100\nmax_ttl = 10\n", 2, "hints.min_ttl", "must not exceed"},
        BadCase{"HintsNegative", "[hints]\ndns_entries = -1\n", 2, "hints.dns_entries", "from 0"},
        BadCase{"KeepRouteType", "[routing]\nkeep_first_route = \"yes\"\n", 2, "routing.keep_first_route", "true or false"},
        BadCase{"Syntax", "[gateway\nworkers = 1\n", 1, "", ""}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return i.param.name; });

TEST(Config, EveryErrorIsReported) {
  ConfigLoad l = parseConfig("[gateway]\nworkers = 0\nbudget = 3\n[flows]\nudp_timeout = -1\n", "m.toml");
  ASSERT_EQ(l.errors.size(), 3u);
  EXPECT_EQ(l.errors[0].key, "gateway.budget");  // unknown keys are reported first per table
  EXPECT_EQ(l.errors[1].key, "gateway.workers");
  EXPECT_EQ(l.errors[2].key, "flows.udp_timeout");
}

TEST(Config, MissingFileIsAnError) {
  ConfigLoad l = loadConfig("/nonexistent/flowgate.toml");
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_NE(l.errors[0].message.find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace fg::cli
