// Policy evaluation benchmark: ns per evaluate() with 10, 1 000 and 10 000
// rules, indexed vs the linear reference scan, over a realistic mix of flows
// (the capture corpus's expected.tsv when present, else synthetic flows).
//
//   policy_bench [CORPUS_DIR]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/cipher_suites.h"
#include "common/tls_version.h"
#include "policy/policy.h"

using fg::policy::FlowFacts;
using fg::policy::IpAddress;

namespace {

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == '\t') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::vector<FlowFacts> corpusFlows(const std::string& dir) {
  std::vector<FlowFacts> flows;
  std::ifstream in(dir + "/expected.tsv");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const auto c = split(line);
    if (c.size() < 14) continue;
    FlowFacts f;
    auto src = IpAddress::parse(c[2]);
    auto dst = IpAddress::parse(c[4]);
    if (!src || !dst) continue;
    f.src = *src;
    f.dst = *dst;
    f.src_port = static_cast<uint16_t>(std::stoi(c[3]));
    f.dst_port = static_cast<uint16_t>(std::stoi(c[5]));
    f.ip_proto = c[1] == "TCP" ? 6 : c[1] == "UDP" ? 17 : c[1] == "ICMP" ? 1 : 58;
    f.l7_protocol = c[6];
    f.application = c[7];
    f.category = c[8];
    f.hostname = c[9];
    if (auto v = fg::parseTlsVersion(c[10])) f.tls_version = *v;
    if (const auto* s = fg::findCipherSuite(std::string_view(c[11]))) {
      f.cipher_id = s->id;
      f.cipher_strength = s->strength;
    }
    f.ja3c = c[12];
    f.confidence = "dpi";
    flows.push_back(std::move(f));
  }
  return flows;
}

std::vector<FlowFacts> syntheticFlows() {
  std::vector<FlowFacts> flows;
  std::mt19937 rng(7);
  const char* apps[] = {"TLS", "HTTP", "DNS", "QUIC", "NetFlix", "YouTube", "Google", "Facebook"};
  for (int i = 0; i < 1000; ++i) {
    FlowFacts f;
    f.application = apps[rng() % 8];
    f.l7_protocol = "TLS";
    f.category = "Web";
    f.hostname = "www.site" + std::to_string(rng() % 500) + ".com";
    f.src = IpAddress::v4(0x0a000000u | (rng() & 0xffff));
    f.dst = IpAddress::v4(static_cast<uint32_t>(rng()));
    f.src_port = static_cast<uint16_t>(1024 + rng() % 60000);
    f.dst_port = 443;
    f.ip_proto = 6;
    f.tls_version = 0x0303;
    flows.push_back(f);
  }
  return flows;
}

// A policy of n rules: ~40% application/protocol/category, ~25% hostname,
// ~25% destination CIDR, ~10% generic (port/proto/TLS); the last rules are a
// realistic tail (weak TLS, Netflix, BitTorrent) so real flows do match.
std::string makePolicy(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  const char* cats[] = {"Web", "Video", "Download", "Game", "VoIP", "Chat", "Network"};
  std::ostringstream out;
  out << "[policy]\ndefault_action = \"accept\"\n[class]\nbulk = 1\nrealtime = 2\n";
  const size_t tail = n >= 10 ? 4 : 0;
  for (size_t i = 0; i + tail < n; ++i) {
    out << "[[rule]]\nname = \"r" << i << "\"\n";
    const unsigned k = rng() % 20;
    if (k < 8) {
      out << "match = { application = [\"App" << i << "\", \"Other" << (rng() % 5000) << "\"] }\n";
    } else if (k < 10) {
      out << "match = { category = \"" << cats[rng() % 7] << "\", dst_port = " << (20000 + rng() % 40000) << " }\n";
    } else if (k < 15) {
      out << "match = { hostname = [\"*.h" << i << ".example\", \"host" << i << ".example.net\"] }\n";
    } else if (k < 19) {
      out << "match = { dst = \"" << (rng() % 223 + 1) << "." << (rng() % 256) << "." << (rng() % 256)
          << ".0/24\", proto = \"tcp\" }\n";
    } else {
      out << "match = { dst_port = " << (30000 + rng() % 30000) << ", proto = \"udp\" }\n";
    }
    out << "action = \"" << (rng() % 4 == 0 ? "drop" : "accept") << "\"\n";
  }
  if (tail) {
    out << "[[rule]]\nname = \"weak-tls\"\nmatch = { tls_version = \"< TLSv1.2\" }\naction = \"reject\"\n";
    out << "[[rule]]\nname = \"weak-cipher\"\nmatch = { cipher_strength = [\"insecure\", \"weak\"] }\naction = \"reject\"\n";
    out << "[[rule]]\nname = \"netflix\"\nmatch = { application = \"NetFlix\" }\nclass = \"realtime\"\n";
    out << "[[rule]]\nname = \"bt\"\nmatch = { application = \"BitTorrent\" }\nclass = \"bulk\"\n";
  }
  return out.str();
}

template <typename F>
double nsPerEval(const std::vector<FlowFacts>& flows, F&& eval, double budget_s) {
  using clock = std::chrono::steady_clock;
  size_t evals = 0;
  uint64_t sink = 0;
  const auto start = clock::now();
  auto now = start;
  do {
    for (const auto& f : flows) sink += eval(f).rule;
    evals += flows.size();
    now = clock::now();
  } while (std::chrono::duration<double>(now - start).count() < budget_s);
  if (sink == 42) std::puts("");  // keep the work observable
  return std::chrono::duration<double, std::nano>(now - start).count() / static_cast<double>(evals);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string corpus = argc > 1 ? argv[1] : FLOWGATE_CORPUS_DIR;
  std::vector<FlowFacts> flows = corpusFlows(corpus);
  const bool real = !flows.empty();
  if (!real) flows = syntheticFlows();
  std::printf("policy_bench: %zu flow records (%s)\n", flows.size(),
              real ? "corpus expected.tsv" : "synthetic; corpus not found");
  std::printf("%8s %14s %14s %10s %8s %8s\n", "rules", "indexed ns", "linear ns", "speedup", "indexed",
              "generic");
  const auto when = std::chrono::system_clock::now();
  for (size_t n : {10, 1000, 10000}) {
    const std::vector<fg::policy::PolicySource> src{{"bench.toml", makePolicy(n, 1)}};
    auto loaded = fg::policy::compilePolicy(src, fg::policy::LoadOptions{}, 1);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", fg::policy::formatError(loaded.errors()[0]).c_str());
      return 1;
    }
    const auto& p = *loaded.value();
    // Sanity: both paths agree on every flow.
    for (const auto& f : flows) {
      if (p.evaluate(f, when).rule != p.evaluateLinearScan(f, when).rule) {
        std::fprintf(stderr, "mismatch between indexed and linear evaluation\n");
        return 1;
      }
    }
    const double indexed = nsPerEval(flows, [&](const FlowFacts& f) { return p.evaluate(f, when); }, 0.5);
    const double linear =
        nsPerEval(flows, [&](const FlowFacts& f) { return p.evaluateLinearScan(f, when); }, 0.5);
    const auto s = p.summary();
    std::printf("%8zu %14.1f %14.1f %9.1fx %8zu %8zu\n", n, indexed, linear, linear / indexed, s.indexed_rules,
                s.generic_rules);
  }
  return 0;
}
