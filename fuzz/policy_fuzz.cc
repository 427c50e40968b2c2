// policy_fuzz: policy::compilePolicy on arbitrary TOML text.
//
// The loader must never throw or crash and must return errors or a policy.
// When the text compiles, a few fixed flows are evaluated at a few fixed
// times: the indexed evaluation must equal the linear scan (the reference
// semantics, policy.h), and the summary, rule table and decision JSON must
// be producible. Errors are formatted as `flowgate policy check` prints them.
//
// The name catalog is the policy unit tests' small fixed one (not nDPI's),
// so the target does not depend on libndpi.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_common.h"
#include "policy/policy.h"

namespace fg::fuzz {
namespace {

const policy::NameCatalog& testCatalog() {
  static const policy::NameCatalog catalog{
      .protocols = {"Unknown", "TLS", "HTTP", "DNS", "QUIC", "NetFlix", "YouTube", "BitTorrent",
                    "Zoom", "Teams", "Skype_Teams", "Facebook", "Google", "SSH", "STUN", "Steam"},
      .categories = {"Web", "Video", "Download", "Game", "VoIP", "Chat", "Network",
                     "SocialNetwork", "Media", "Streaming", "Collaborative"},
  };
  return catalog;
}

policy::IpAddress ip(const char* s) { return policy::IpAddress::parse(s).value_or(policy::IpAddress{}); }

std::vector<policy::FlowFacts> fixedFlows() {
  std::vector<policy::FlowFacts> flows;
  flows.push_back(policy::FlowFacts{
      .application = "NetFlix", .l7_protocol = "TLS", .category = "Video",
      .hostname = "www.netflix.com", .tls_version = 0x0303, .cipher_id = 0xC02F,
      .cipher_name = "", .cipher_strength = CipherStrength::Strong,
      .ja3c = "e7d705a3286e19ea42f587b344ee6865", .ja3s = "ae4edc6faf64d08308082ad26be60767",
      .alpn = {"h2", "http/1.1"}, .src = ip("10.0.0.2"), .dst = ip("198.51.100.7"),
      .src_port = 51000, .dst_port = 443, .ip_proto = 6, .in_interface = "lan0",
      .out_interface = "wan0", .confidence = "dpi", .pending = policy::kPendingNone});
  flows.push_back(policy::FlowFacts{
      .application = "TLS", .l7_protocol = "TLS", .category = "Web",
      .hostname = "legacy.example.com", .tls_version = 0x0301, .cipher_id = 0x000A,
      .cipher_name = "", .cipher_strength = CipherStrength::Weak, .ja3c = "", .ja3s = "",
      .alpn = {}, .src = ip("192.0.2.10"), .dst = ip("203.0.113.5"), .src_port = 40000,
      .dst_port = 8443, .ip_proto = 6, .in_interface = "lan1", .out_interface = "wan1",
      .confidence = "guessed", .pending = policy::kPendingNone});
  flows.push_back(policy::FlowFacts{
      .application = "DNS", .l7_protocol = "DNS", .category = "Network",
      .hostname = "a.b.c.test", .tls_version = 0, .cipher_id = 0, .cipher_name = "",
      .cipher_strength = CipherStrength::Unknown, .ja3c = "", .ja3s = "", .alpn = {},
      .src = ip("fd00::2"), .dst = ip("2001:db8::53"), .src_port = 5353, .dst_port = 53,
      .ip_proto = 17, .in_interface = "br-lan", .out_interface = "", .confidence = "dpi",
      .pending = policy::kPendingNone});
  flows.push_back(policy::FlowFacts{
      .application = "", .l7_protocol = "", .category = "", .hostname = "",
      .tls_version = 0, .cipher_id = 0, .cipher_name = "",
      .cipher_strength = CipherStrength::Unknown, .ja3c = "", .ja3s = "", .alpn = {},
      .src = ip("10.1.2.3"), .dst = ip("10.9.9.9"), .src_port = 0, .dst_port = 0,
      .ip_proto = 1, .in_interface = "", .out_interface = "", .confidence = "unknown",
      .pending = policy::kPendingClassification | policy::kPendingTlsServerHello});
  flows.push_back(policy::FlowFacts{
      .application = "BitTorrent", .l7_protocol = "BitTorrent", .category = "Download",
      .hostname = "tracker.example.org", .tls_version = 0, .cipher_id = 0,
      .cipher_name = "TLS_RSA_WITH_RC4_128_SHA", .cipher_strength = CipherStrength::Insecure,
      .ja3c = "", .ja3s = "", .alpn = {""}, .src = ip("10.0.0.9"), .dst = ip("8.8.8.8"),
      .src_port = 6881, .dst_port = 6881, .ip_proto = 17, .in_interface = "lan0",
      .out_interface = "wan0", .confidence = "cache", .pending = policy::kPendingTlsServerHello});
  return flows;
}

std::vector<std::chrono::system_clock::time_point> fixedTimes() {
  using namespace std::chrono;
  const auto monday_noon = fixedNow();
  return {monday_noon, monday_noon + hours(11) + minutes(30),  // Monday 23:30 UTC
          monday_noon + days(5) + hours(-12)};                 // Saturday 00:00 UTC
}

}  // namespace
}  // namespace fg::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fg;
  static const std::vector<policy::FlowFacts> flows = fuzz::fixedFlows();
  static const auto times = fuzz::fixedTimes();

  const std::vector<policy::PolicySource> sources{
      {"fuzz.toml", std::string(reinterpret_cast<const char*>(data), size)}};
  const policy::LoadOptions options{.catalog = &fuzz::testCatalog()};
  auto r = policy::compilePolicy(sources, options, 1);
  if (!r.ok()) {
    if (r.errors().empty()) __builtin_trap();  // LoadResult promises at least one error
    for (const auto& e : r.errors()) (void)policy::formatError(e);
    return 0;
  }
  const policy::PolicySet& p = *r.value();
  (void)p.summary();
  for (uint32_t id = 0; id < p.ruleCount(); ++id) {
    (void)p.rule(id);
    (void)p.ruleName(id);
  }
  for (const auto& facts : flows)
    for (const auto& now : times) {
      fuzz::checkSameDecision(p, facts, now);
      p.count(p.evaluate(facts, now));
    }
  return 0;
}
