// Helpers shared by the policy tests: a small fixed name catalog, compiling
// policies from strings, and building FlowFacts with designated initializers.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/policy.h"

namespace fg::policy::testing {

inline const NameCatalog& testCatalog() {
  static const NameCatalog catalog{
      .protocols = {"Unknown", "TLS", "HTTP", "DNS", "QUIC", "NetFlix", "YouTube", "BitTorrent",
                    "Zoom", "Teams", "Skype_Teams", "Facebook", "Google", "SSH", "STUN", "Steam"},
      .categories = {"Web", "Video", "Download", "Game", "VoIP", "Chat", "Network",
                     "SocialNetwork", "Media", "Streaming", "Collaborative"},
  };
  return catalog;
}

inline LoadOptions testOptions() { return LoadOptions{.catalog = &testCatalog()}; }

inline LoadResult<std::shared_ptr<const PolicySet>> compileText(const std::string& text,
                                                               const std::string& name = "test.toml") {
  const std::vector<PolicySource> sources{{name, text}};
  return compilePolicy(sources, testOptions(), 1);
}

// Compiles or fails the test with every error printed.
inline std::shared_ptr<const PolicySet> mustCompile(const std::string& text) {
  auto r = compileText(text);
  if (!r.ok()) {
    std::string all;
    for (const auto& e : r.errors()) all += formatError(e) + "\n";
    ADD_FAILURE() << "policy did not compile:\n" << all << "---\n" << text;
    return PolicySet::empty();
  }
  return r.value();
}

inline IpAddress ip(const char* s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(IpAddress{});
}

// A TLS flow to a web server; tests override fields with designated initializers.
inline FlowFacts webFlow() {
  return FlowFacts{
      .application = "TLS",
      .l7_protocol = "TLS",
      .category = "Web",
      .hostname = "www.example.com",
      .tls_version = 0x0303,
      .cipher_id = 0xC02F,  // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
      .cipher_name = "",
      .cipher_strength = CipherStrength::Strong,
      .ja3c = "",
      .ja3s = "",
      .alpn = {"h2"},
      .src = ip("10.0.0.2"),
      .dst = ip("93.184.216.34"),
      .src_port = 51000,
      .dst_port = 443,
      .ip_proto = 6,
      .in_interface = "lan0",
      .out_interface = "wan0",
      .confidence = "dpi",
      .pending = kPendingNone,
  };
}

// 2024-01-15 (a Monday) 12:00:00 UTC.
inline std::chrono::system_clock::time_point mondayNoonUtc() {
  using namespace std::chrono;
  return sys_days{year{2024} / January / 15} + hours{12};
}

inline std::chrono::system_clock::time_point utcTime(int y, unsigned m, unsigned d, int hh, int mm) {
  using namespace std::chrono;
  return sys_days{year{y} / month{m} / day{d}} + hours{hh} + minutes{mm};
}

}  // namespace fg::policy::testing
