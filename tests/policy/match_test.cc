// Every match key: hit, miss, lists, negation, case rules. Each case compiles
// a one-rule policy (drop on match, default accept) and checks the indexed
// evaluation and the linear reference agree.
#include <functional>

#include "tests/policy/policy_test_util.h"

namespace fg::policy {
namespace {

using testing::ip;
using testing::webFlow;

struct MatchCase {
  std::string name;
  std::string match;  // inside match = { ... }
  std::function<void(FlowFacts&)> facts = [](FlowFacts&) {};
  bool matches = true;
  friend void PrintTo(const MatchCase& c, std::ostream* os) { *os << c.name << ": " << c.match; }
};

class MatchTest : public ::testing::TestWithParam<MatchCase> {};

TEST_P(MatchTest, DecidesAsExpected) {
  const MatchCase& c = GetParam();
  const std::string text =
      "[address_group]\nlan = [\"10.0.0.0/8\", \"fd00::/8\"]\n"
      "[[rule]]\nname = \"r\"\nmatch = { " + c.match + " }\naction = \"drop\"\n";
  auto policy = testing::mustCompile(text);
  FlowFacts f = webFlow();
  c.facts(f);
  const Decision d = policy->evaluate(f, testing::mondayNoonUtc());
  const Decision linear = policy->evaluateLinearScan(f, testing::mondayNoonUtc());
  EXPECT_EQ(d.verdict == Verdict::Drop, c.matches) << c.match;
  EXPECT_EQ(d.verdict, linear.verdict);
  EXPECT_EQ(d.rule, linear.rule);
  if (c.matches) {
    EXPECT_EQ(policy->ruleName(d.rule), "r");
  }
}

const MatchCase kCases[] = {
    {.name = "empty_match_matches_all", .match = ""},
    // application / l7_protocol / category
    {.name = "application_hit", .match = "application = \"TLS\""},
    {.name = "application_case_insensitive", .match = "application = \"tls\""},
    {.name = "application_fact_case_insensitive", .match = "application = \"NetFlix\"",
     .facts = [](FlowFacts& f) { f.application = "NETFLIX"; }},
    {.name = "application_miss", .match = "application = \"NetFlix\"", .matches = false},
    {.name = "application_list_any", .match = "application = [\"NetFlix\", \"TLS\"]"},
    {.name = "application_empty_fact", .match = "application = \"TLS\"",
     .facts = [](FlowFacts& f) { f.application.clear(); }, .matches = false},
    {.name = "not_application_miss", .match = "not_application = \"TLS\"", .matches = false},
    {.name = "not_application_hit", .match = "not_application = [\"NetFlix\", \"YouTube\"]"},
    {.name = "l7_protocol_hit", .match = "l7_protocol = \"TLS\""},
    {.name = "l7_protocol_miss", .match = "l7_protocol = \"QUIC\"", .matches = false},
    {.name = "not_l7_protocol", .match = "not_l7_protocol = \"QUIC\""},
    {.name = "category_hit", .match = "category = \"web\""},
    {.name = "category_miss", .match = "category = [\"Video\", \"Game\"]", .matches = false},
    {.name = "not_category", .match = "not_category = \"Video\""},
    // hostname
    {.name = "hostname_exact", .match = "hostname = \"www.example.com\""},
    {.name = "hostname_exact_case", .match = "hostname = \"WWW.Example.com\"",
     .facts = [](FlowFacts& f) { f.hostname = "www.EXAMPLE.com"; }},
    {.name = "hostname_trailing_dot", .match = "hostname = \"www.example.com\"",
     .facts = [](FlowFacts& f) { f.hostname = "www.example.com."; }},
    {.name = "hostname_exact_miss", .match = "hostname = \"example.com\"", .matches = false},
    {.name = "hostname_wildcard", .match = "hostname = \"*.example.com\""},
    {.name = "hostname_wildcard_deep", .match = "hostname = \"*.example.com\"",
     .facts = [](FlowFacts& f) { f.hostname = "a.b.c.example.com"; }},
    {.name = "hostname_wildcard_not_apex", .match = "hostname = \"*.example.com\"",
     .facts = [](FlowFacts& f) { f.hostname = "example.com"; }, .matches = false},
    {.name = "hostname_wildcard_not_lookalike", .match = "hostname = \"*.example.com\"",
     .facts = [](FlowFacts& f) { f.hostname = "www.badexample.com"; }, .matches = false},
    {.name = "hostname_wildcard_tld", .match = "hostname = \"*.com\""},
    {.name = "hostname_regex", .match = "hostname = \"~www\\\\.ex[a-z]+\\\\.com\""},
    {.name = "hostname_regex_anchored", .match = "hostname = \"~example\"", .matches = false},
    {.name = "hostname_regex_icase", .match = "hostname = \"~WWW\\\\..*\""},
    {.name = "hostname_no_host", .match = "hostname = \"*.example.com\"",
     .facts = [](FlowFacts& f) { f.hostname.clear(); }, .matches = false},
    {.name = "not_hostname_hit", .match = "not_hostname = [\"*.netflix.com\", \"~.*\\\\.nflx.*\"]"},
    {.name = "not_hostname_miss", .match = "not_hostname = \"*.example.com\"", .matches = false},
    {.name = "not_hostname_absent", .match = "not_hostname = \"*.example.com\"",
     .facts = [](FlowFacts& f) { f.hostname.clear(); }},
    // tls_version
    {.name = "tls_version_exact", .match = "tls_version = \"TLSv1.2\""},
    {.name = "tls_version_exact_miss", .match = "tls_version = \"TLSv1.3\"", .matches = false},
    {.name = "tls_version_lt_miss", .match = "tls_version = \"< TLSv1.2\"", .matches = false},
    {.name = "tls_version_lt_hit", .match = "tls_version = \"< TLSv1.2\"",
     .facts = [](FlowFacts& f) { f.tls_version = 0x0301; }},
    {.name = "tls_version_lt_dtls10", .match = "tls_version = \"<TLSv1.2\"",
     .facts = [](FlowFacts& f) { f.tls_version = 0xfeff; }},
    {.name = "tls_version_le", .match = "tls_version = \"<= TLSv1.2\""},
    {.name = "tls_version_gt", .match = "tls_version = \"> TLSv1.1\""},
    {.name = "tls_version_ge_miss", .match = "tls_version = \">= TLSv1.3\"", .matches = false},
    {.name = "tls_version_eq_op", .match = "tls_version = \"= TLSv1.2\""},
    {.name = "tls_version_none", .match = "tls_version = \"< TLSv1.2\"",
     .facts = [](FlowFacts& f) { f.tls_version = 0; }, .matches = false},
    {.name = "tls_version_unknown_wire", .match = "tls_version = \"< TLSv1.2\"",
     .facts = [](FlowFacts& f) { f.tls_version = 0x0100; }, .matches = false},
    {.name = "not_tls_version_none", .match = "not_tls_version = \"< TLSv1.2\"",
     .facts = [](FlowFacts& f) { f.tls_version = 0; }},
    {.name = "tls_version_list", .match = "tls_version = [\"TLSv1\", \"TLSv1.2\"]"},
    // cipher / cipher_strength
    {.name = "cipher_name", .match = "cipher = \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\""},
    {.name = "cipher_name_case", .match = "cipher = \"tls_ecdhe_rsa_with_aes_128_gcm_sha256\""},
    {.name = "cipher_hex", .match = "cipher = \"0xC02F\""},
    {.name = "cipher_miss", .match = "cipher = \"TLS_RSA_WITH_RC4_128_MD5\"", .matches = false},
    {.name = "cipher_by_fact_name", .match = "cipher = \"TLS_RSA_WITH_RC4_128_MD5\"",
     .facts = [](FlowFacts& f) { f.cipher_id = 0; f.cipher_name = "TLS_RSA_WITH_RC4_128_MD5"; }},
    {.name = "not_cipher", .match = "not_cipher = \"TLS_RSA_WITH_RC4_128_MD5\""},
    {.name = "strength_strong", .match = "cipher_strength = \"strong\""},
    {.name = "strength_list_miss", .match = "cipher_strength = [\"insecure\", \"weak\"]", .matches = false},
    {.name = "strength_from_cipher_id", .match = "cipher_strength = \"insecure\"",
     .facts = [](FlowFacts& f) { f.cipher_id = 0x0004; f.cipher_strength = CipherStrength::Unknown; }},
    {.name = "strength_unknown", .match = "cipher_strength = \"unknown\"",
     .facts = [](FlowFacts& f) { f.cipher_id = 0; f.cipher_strength = CipherStrength::Unknown; }},
    {.name = "not_strength_no_tls", .match = "not_cipher_strength = [\"insecure\", \"weak\"]",
     .facts = [](FlowFacts& f) { f.cipher_id = 0; f.cipher_strength = CipherStrength::Unknown; }},
    // ja3 / alpn
    {.name = "ja3c_hit", .match = "ja3c = \"9E10692F1B7F78228B2D4E424DB3A98C\"",
     .facts = [](FlowFacts& f) { f.ja3c = "9e10692f1b7f78228b2d4e424db3a98c"; }},
    {.name = "ja3c_miss", .match = "ja3c = \"9e10692f1b7f78228b2d4e424db3a98c\"", .matches = false},
    {.name = "ja3s_hit", .match = "ja3s = [\"00000000000000000000000000000000\", \"812d8bce0f85487ba7834d36568ed586\"]",
     .facts = [](FlowFacts& f) { f.ja3s = "812d8bce0f85487ba7834d36568ed586"; }},
    {.name = "not_ja3s", .match = "not_ja3s = \"812d8bce0f85487ba7834d36568ed586\""},
    {.name = "alpn_hit", .match = "alpn = \"h2\""},
    {.name = "alpn_any_of_fact", .match = "alpn = \"http/1.1\"",
     .facts = [](FlowFacts& f) { f.alpn = {"h2", "http/1.1"}; }},
    {.name = "alpn_miss", .match = "alpn = [\"h3\", \"http/1.1\"]", .matches = false},
    {.name = "not_alpn", .match = "not_alpn = \"h3\""},
    // addresses
    {.name = "src_cidr", .match = "src = \"10.0.0.0/8\""},
    {.name = "src_host", .match = "src = \"10.0.0.2\""},
    {.name = "src_miss", .match = "src = [\"192.168.0.0/16\", \"10.0.0.3\"]", .matches = false},
    {.name = "src_group", .match = "src = \"lan\""},
    {.name = "dst_cidr", .match = "dst = \"93.184.216.0/24\""},
    {.name = "dst_zero_prefix", .match = "dst = \"0.0.0.0/0\""},
    {.name = "dst_v6", .match = "dst = \"2001:db8::/32\"",
     .facts = [](FlowFacts& f) { f.dst = ip("2001:db8::1"); }},
    {.name = "dst_v6_group", .match = "src = \"lan\"",
     .facts = [](FlowFacts& f) { f.src = ip("fd12:3456::7"); }},
    {.name = "dst_family_mismatch", .match = "dst = \"::/0\"", .matches = false},
    {.name = "not_src", .match = "not_src = \"192.168.0.0/16\""},
    {.name = "not_dst_miss", .match = "not_dst = \"93.184.216.34\"", .matches = false},
    {.name = "src_and_not_src", .match = "src = \"10.0.0.0/8\", not_src = \"10.0.0.0/24\"", .matches = false},
    // ports
    {.name = "dst_port_int", .match = "dst_port = 443"},
    {.name = "dst_port_range", .match = "dst_port = \"400-500\""},
    {.name = "dst_port_string", .match = "dst_port = \"443\""},
    {.name = "dst_port_list_miss", .match = "dst_port = [80, \"8000-8999\"]", .matches = false},
    {.name = "src_port_range", .match = "src_port = \"49152-65535\""},
    {.name = "not_dst_port", .match = "not_dst_port = [80, 8080]"},
    {.name = "not_src_port_miss", .match = "not_src_port = \"50000-52000\"", .matches = false},
    // proto
    {.name = "proto_name", .match = "proto = \"tcp\""},
    {.name = "proto_number", .match = "proto = 6"},
    {.name = "proto_miss", .match = "proto = [\"udp\", \"icmp\"]", .matches = false},
    {.name = "proto_icmpv6", .match = "proto = \"ipv6-icmp\"",
     .facts = [](FlowFacts& f) { f.ip_proto = 58; }},
    {.name = "not_proto", .match = "not_proto = \"udp\""},
    // interfaces
    {.name = "in_interface", .match = "in_interface = \"lan0\""},
    {.name = "in_interface_prefix", .match = "in_interface = \"lan*\""},
    {.name = "in_interface_case_sensitive", .match = "in_interface = \"LAN0\"", .matches = false},
    {.name = "out_interface_miss", .match = "out_interface = [\"wan1\", \"wg*\"]", .matches = false},
    {.name = "not_out_interface", .match = "not_out_interface = \"wan1\""},
    {.name = "interface_absent", .match = "in_interface = \"lan*\"",
     .facts = [](FlowFacts& f) { f.in_interface.clear(); }, .matches = false},
    // confidence
    {.name = "confidence_hit", .match = "confidence = \"DPI\""},
    {.name = "confidence_miss", .match = "confidence = [\"guessed\", \"unknown\"]", .matches = false},
    {.name = "not_confidence", .match = "not_confidence = \"guessed\""},
    // AND across keys
    {.name = "and_all_hold", .match = "application = \"TLS\", dst_port = 443, src = \"lan\", proto = \"tcp\""},
    {.name = "and_one_fails", .match = "application = \"TLS\", dst_port = 80", .matches = false},
};

INSTANTIATE_TEST_SUITE_P(Keys, MatchTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<MatchCase>& info) { return info.param.name; });

}  // namespace
}  // namespace fg::policy
