// The indexed evaluation must equal the linear reference scan on randomized
// policies and flows (differential test).
#include <random>
#include <sstream>

#include "tests/policy/policy_test_util.h"

namespace fg::policy {
namespace {

const char* const kApps[] = {"TLS", "HTTP", "DNS", "QUIC", "NetFlix", "YouTube", "BitTorrent", "Zoom"};
const char* const kCats[] = {"Web", "Video", "Download", "Game", "VoIP"};
const char* const kHosts[] = {"example.com", "www.example.com", "a.b.example.com", "netflix.com",
                              "api.netflix.com", "cdn.nflxvideo.net", "x.y", "z.example.org"};

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool coin(int percent) { return pick(100) < percent; }
  template <size_t N>
  const char* any(const char* const (&arr)[N]) { return arr[pick(static_cast<int>(N))]; }

  std::string addr() {
    return "10." + std::to_string(pick(3)) + "." + std::to_string(pick(3)) + "." + std::to_string(pick(4));
  }
  std::string cidr() {
    static const int kLens[] = {8, 16, 24, 30, 32};
    const int len = kLens[pick(5)];
    auto a = IpAddress::parse(addr())->masked(len);
    return a.toString() + "/" + std::to_string(len);
  }
  std::string hostPattern() {
    const int k = pick(3);
    if (k == 0) return any(kHosts);
    if (k == 1) return std::string("*.") + any(kHosts);
    return "~.*example.*";
  }

  std::string rule(int i) {
    std::ostringstream m;
    auto sep = [&, first = true]() mutable {
      if (!first) m << ", ";
      first = false;
    };
    auto neg = [&] { return coin(20) ? "not_" : ""; };
    if (coin(40)) { sep(); m << neg() << "application = [\"" << any(kApps) << "\", \"" << any(kApps) << "\"]"; }
    if (coin(15)) { sep(); m << neg() << "l7_protocol = \"" << any(kApps) << "\""; }
    if (coin(20)) { sep(); m << neg() << "category = \"" << any(kCats) << "\""; }
    if (coin(30)) { sep(); m << neg() << "hostname = [\"" << hostPattern() << "\", \"" << hostPattern() << "\"]"; }
    if (coin(30)) { sep(); m << neg() << "dst = [\"" << cidr() << "\", \"" << cidr() << "\"]"; }
    if (coin(20)) { sep(); m << neg() << "src = \"" << cidr() << "\""; }
    if (coin(20)) {
      sep();
      if (coin(50)) {
        m << neg() << "dst_port = [" << (pick(2) ? 443 : 80) << ", \"1000-2000\"]";
      } else {
        m << neg() << "dst_port = [" << (pick(2) ? 443 : 80) << ", \"" << 1000 + pick(10) << "-1010\"]";
      }
    }
    if (coin(10)) { sep(); m << neg() << "cipher_strength = \"weak\""; }
    if (coin(10)) { sep(); m << neg() << "tls_version = \"< TLSv1.2\""; }
    if (coin(10)) { sep(); m << neg() << "proto = \"udp\""; }
    if (coin(5)) { sep(); m << "time = \"22:00-06:00\""; }
    static const char* const kActions[] = {"accept", "drop", "reject"};
    std::ostringstream r;
    r << "[[rule]]\nname = \"r" << i << "\"\nmatch = { " << m.str() << " }\naction = \"" << any(kActions) << "\"\n";
    if (coin(15)) r << "mode = \"shadow\"\n";
    if (coin(5)) r << "enabled = false\n";
    if (coin(5)) r << "exempt = [\"" << cidr() << "\"]\n";
    const std::string ms = m.str();
    const bool reads_name = ms.find("application") != std::string::npos ||
                            ms.find("category") != std::string::npos || ms.find("hostname") != std::string::npos;
    if (reads_name && coin(40)) r << "require_verified_name = " << (coin(75) ? "true" : "false") << "\n";
    return r.str();
  }

  FlowFacts facts() {
    FlowFacts f = testing::webFlow();
    f.application = coin(90) ? any(kApps) : "";
    f.l7_protocol = any(kApps);
    f.category = any(kCats);
    f.hostname = coin(80) ? any(kHosts) : "";
    if (coin(30)) f.hostname = "deep.sub." + f.hostname;
    f.src = *IpAddress::parse(addr());
    f.dst = *IpAddress::parse(addr());
    f.dst_port = static_cast<uint16_t>(coin(50) ? 443 : pick(3000));
    f.ip_proto = coin(70) ? 6 : 17;
    f.tls_version = coin(30) ? 0x0301 : 0x0303;
    f.cipher_strength = coin(30) ? CipherStrength::Weak : CipherStrength::Strong;
    f.cipher_id = 0;
    f.pending = static_cast<uint8_t>(pick(4));
    f.name_check = static_cast<NameCheck>(pick(3));
    return f;
  }

 private:
  std::mt19937 rng_;
};

TEST(IndexTest, IndexedEqualsLinearScan) {
  size_t decided_by_rule = 0, compared = 0, unverified = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    Gen g(seed);
    std::string text = "[policy]\ndefault_action = \"drop\"\n";
    const int rules = 5 + g.pick(80);
    for (int i = 0; i < rules; ++i) text += g.rule(i);
    auto p = testing::mustCompile(text);
    ASSERT_EQ(p->ruleCount(), static_cast<size_t>(rules));
    for (int k = 0; k < 300; ++k) {
      const FlowFacts f = g.facts();
      const auto when = testing::utcTime(2024, 1, 19, g.pick(24), 0);
      const Decision a = p->evaluate(f, when);
      const Decision b = p->evaluateLinearScan(f, when);
      ++compared;
      decided_by_rule += a.rule != Decision::kNone;
      ASSERT_EQ(a.rule, b.rule) << "seed " << seed << " flow " << k;
      ASSERT_EQ(a.verdict, b.verdict);
      ASSERT_EQ(a.final, b.final);
      ASSERT_EQ(a.shadow_matches, b.shadow_matches);
      ASSERT_TRUE(std::equal(a.shadowRules().begin(), a.shadowRules().end(), b.shadowRules().begin(),
                             b.shadowRules().end()));
      ASSERT_EQ(a.unverified_matches, b.unverified_matches);
      ASSERT_TRUE(std::equal(a.unverifiedRules().begin(), a.unverifiedRules().end(),
                             b.unverifiedRules().begin(), b.unverifiedRules().end()));
      unverified += a.unverified_count > 0;
    }
  }
  // The generator must exercise both outcomes to mean anything.
  EXPECT_GT(decided_by_rule, compared / 10);
  EXPECT_LT(decided_by_rule, compared);
  EXPECT_GT(unverified, 0u);  // rules set aside for unverified names were exercised
}

TEST(IndexTest, CommonKeysAreIndexed) {
  auto p = testing::mustCompile(R"(
[[rule]]
name = "a"
match = { application = "NetFlix" }
[[rule]]
name = "h"
match = { hostname = "*.example.com" }
[[rule]]
name = "d"
match = { dst = "10.0.0.0/8" }
[[rule]]
name = "g"
match = { dst_port = 22 }
[[rule]]
name = "re"
match = { hostname = "~.*" }
[[rule]]
name = "wide-ports"
match = { dst_port = "1024-65535" }
[[rule]]
name = "cat"
match = { category = "Video", not_application = "NetFlix" }
)");
  EXPECT_EQ(p->summary().indexed_rules, 5u);
  EXPECT_EQ(p->summary().generic_rules, 2u);
}

}  // namespace
}  // namespace fg::policy
