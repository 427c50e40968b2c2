// Flow record JSON -> FlowFacts, Decision -> JSON, IP address parsing.
#include <nlohmann/json.hpp>

#include "tests/policy/policy_test_util.h"
#include "policy/record_json.h"

namespace fg::policy {
namespace {

TEST(RecordTest, ReadsFlowRecord) {
  const auto j = nlohmann::json::parse(R"({"event":"flow","ts":1700000000.123,"flow_id":"f1","ip_version":4,
    "proto":"tcp","src_ip":"10.0.0.2","src_port":51000,"dst_ip":"93.184.216.34","dst_port":443,
    "l7_protocol":"TLS","application":"Netflix","category":"Video","hostname":"www.netflix.com",
    "tls":{"version":"TLSv1.2","cipher":"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256","cipher_strength":"strong",
    "ja3c":"aa","ja3s":"bb","alpn":["h2","http/1.1"]},"dns":{"query":"x","qtype":1},"packets":7,
    "confidence":"dpi","in_interface":"lan0"})");
  auto f = factsFromRecord(j);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(f->application, "Netflix");
  EXPECT_EQ(f->l7_protocol, "TLS");
  EXPECT_EQ(f->category, "Video");
  EXPECT_EQ(f->hostname, "www.netflix.com");
  EXPECT_EQ(f->ip_proto, 6);
  EXPECT_EQ(f->src, testing::ip("10.0.0.2"));
  EXPECT_EQ(f->dst_port, 443);
  EXPECT_EQ(f->tls_version, 0x0303);
  EXPECT_EQ(f->cipher_id, 0xC02F);
  EXPECT_EQ(f->cipher_strength, CipherStrength::Strong);
  EXPECT_EQ(f->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(f->confidence, "dpi");
  EXPECT_EQ(f->in_interface, "lan0");
  EXPECT_EQ(f->pending, kPendingNone);
}

TEST(RecordTest, OptionalPartsAndPending) {
  auto f = factsFromRecord(nlohmann::json::parse(
      R"J({"proto":"ipv6-icmp","src_ip":"2001:db8::1","dst_ip":"::1","pending":["classification","tls_server_hello"],
          "tls":{"version":"TLS (0100)","cipher":"TLS_RSA_WITH_RC4_128_MD5"}})J"));
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(f->ip_proto, 58);
  EXPECT_EQ(f->tls_version, 0x0100);
  EXPECT_EQ(f->cipher_strength, CipherStrength::Insecure);
  EXPECT_EQ(f->pending, kPendingClassification | kPendingTlsServerHello);
  auto g = factsFromRecord(nlohmann::json::parse(R"({"proto":"47"})"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->ip_proto, 47);
}

TEST(RecordTest, RejectsBadFields) {
  const char* const kBad[] = {
      R"([1,2])",
      R"({"src_ip":"10.0.0.300"})",
      R"({"dst_port":70000})",
      R"({"proto":"tcpx"})",
      R"({"application":5})",
      R"({"tls":{"version":"TLSv9"}})",
      R"({"tls":{"alpn":"h2"}})",
      R"({"pending":["later"]})",
  };
  for (const char* text : kBad) EXPECT_FALSE(factsFromRecord(nlohmann::json::parse(text)).ok()) << text;
}

TEST(RecordTest, DecisionToJson) {
  auto p = testing::mustCompile(R"(
[route.up]
table = 100
fwmark = 5
[set.s4]
family = "ipv4"
[[rule]]
name = "shadow"
mode = "shadow"
match = { l7_protocol = "TLS" }
[[rule]]
name = "route-it"
match = { application = "TLS" }
route = "up"
add_to_set = "s4"
)");
  const Decision d = p->evaluate(testing::webFlow(), testing::mondayNoonUtc());
  const auto j = decisionToJson(d, *p);
  EXPECT_EQ(j["verdict"], "accept");
  EXPECT_EQ(j["rule"], "route-it");
  EXPECT_EQ(j["mark"], 5);
  EXPECT_EQ(j["mask"], 0xff);
  EXPECT_EQ(j["route"]["name"], "up");
  EXPECT_EQ(j["route"]["table"], 100);
  EXPECT_EQ(j["sets"][0]["set"], "s4");
  EXPECT_EQ(j["sets"][0]["address"], "93.184.216.34");
  EXPECT_EQ(j["shadow_rules"][0], "shadow");
  EXPECT_EQ(j["final"], true);
  EXPECT_EQ(j["generation"], 1);
}

struct AddrCase {
  std::string text;
  bool ok;
  std::string canonical;
};

TEST(IpAddressTest, ParsesAndFormats) {
  const AddrCase kCases[] = {
      {"10.0.0.1", true, "10.0.0.1"},
      {"255.255.255.255", true, "255.255.255.255"},
      {"256.0.0.1", false, ""},
      {"1.2.3", false, ""},
      {"1.2.3.4.5", false, ""},
      {"01.2.3.4", false, ""},
      {"::", true, "::"},
      {"::1", true, "::1"},
      {"2001:DB8::1", true, "2001:db8::1"},
      {"2001:db8:0:0:1:0:0:1", true, "2001:db8::1:0:0:1"},
      {"fe80::1:2:3:4:5:6", true, "fe80:0:1:2:3:4:5:6"},
      {"::ffff:1.2.3.4", true, "::ffff:102:304"},
      {"1::2::3", false, ""},
      {"1:2:3:4:5:6:7:8:9", false, ""},
      {"12345::", false, ""},
      {":1", false, ""},
      {"1:", false, ""},
      {"", false, ""},
  };
  for (const auto& c : kCases) {
    auto a = IpAddress::parse(c.text);
    EXPECT_EQ(a.has_value(), c.ok) << c.text;
    if (a && c.ok) {
      EXPECT_EQ(a->toString(), c.canonical) << c.text;
    }
  }
}

TEST(IpAddressTest, Cidrs) {
  auto c = Cidr::parse("10.1.0.0/16");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(testing::ip("10.1.200.3")));
  EXPECT_FALSE(c->contains(testing::ip("10.2.0.1")));
  EXPECT_FALSE(c->contains(testing::ip("::1")));
  auto v6 = Cidr::parse("2001:db8:8000::/33");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(testing::ip("2001:db8:8000::1")));
  EXPECT_FALSE(v6->contains(testing::ip("2001:db8:7fff::1")));
  EXPECT_EQ(Cidr::parse("10.0.0.5")->prefix_len, 32);
  std::string why;
  EXPECT_FALSE(Cidr::parse("10.0.0.1/24", &why));
  EXPECT_EQ(why, "host bits set after the prefix (did you mean 10.0.0.0/24?)");
  EXPECT_FALSE(Cidr::parse("10.0.0.0/", &why));
  EXPECT_FALSE(Cidr::parse("::/129", &why));
}

}  // namespace
}  // namespace fg::policy
