// Application catalog lookups (docs/catalog.md, docs/performance.md): a
// synthetic catalog of 10 000 applications (one exact name, one "*." suffix
// and one /24 or /48 range each, 1 in 10 with an anchored label), then
// nanoseconds per lookup for names that hit at different depths, names that
// miss, and addresses that hit and miss. Bounded: about a second in all.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "catalog/catalog.h"

using namespace fg;

namespace {

double nsPer(const std::vector<std::string>& names, const catalog::Catalog& c, int rounds, size_t& hits) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r)
    for (const auto& n : names) hits += c.matchName(n) ? 1 : 0;
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  return ns / (static_cast<double>(rounds) * names.size());
}

double nsPerAddress(const std::vector<policy::IpAddress>& addrs, const catalog::Catalog& c, int rounds, size_t& hits) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r)
    for (const auto& a : addrs) hits += c.matchAddress(a, 443) ? 1 : 0;
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  return ns / (static_cast<double>(rounds) * addrs.size());
}

}  // namespace

int main() {
  constexpr int kApps = 10000;
  std::string text;
  for (int i = 0; i < kApps; ++i) {
    text += "[[app]]\nname = \"App" + std::to_string(i) + "\"\ncategory = \"Web\"\nhosts = [\"svc" +
            std::to_string(i) + ".vendor" + std::to_string(i % 997) + ".com\", \"*.app" + std::to_string(i) +
            ".example.net\"";
    if (i % 10 == 0) text += ", \"edge*.cdn" + std::to_string(i) + ".example.org\"";
    text += "]\nranges = [\"" + std::to_string(10 + i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
            std::to_string(i % 256) + ".0/24\", \"2001:db8:" + std::to_string(i) + "::/48\"]\n";
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto loaded = catalog::loadCatalog({{.name = "bench.toml", .text = text}});
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!loaded.ok()) {
    std::fprintf(stderr, "catalog_bench: %s\n", policy::formatError(loaded.errors()[0]).c_str());
    return 1;
  }
  const catalog::Catalog& c = *loaded.value();
  std::printf("catalog: %zu applications, %zu host patterns, %zu ranges, loaded in %.1f ms\n", c.apps().size(),
              c.hostPatterns(), c.rangeCount(), load_ms);

  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> pick(0, kApps - 1);
  std::vector<std::string> exact, suffix, anchored, miss;
  std::vector<policy::IpAddress> v4hit, v6hit, v4miss;
  for (int k = 0; k < 4096; ++k) {
    const int i = pick(rng);
    exact.push_back("svc" + std::to_string(i) + ".vendor" + std::to_string(i % 997) + ".com");
    suffix.push_back("a.b.media" + std::to_string(k) + ".app" + std::to_string(i) + ".example.net");
    anchored.push_back("edge" + std::to_string(k) + ".cdn" + std::to_string(i / 10 * 10) + ".example.org");
    miss.push_back("www" + std::to_string(k) + ".unknown-site" + std::to_string(i) + ".co.uk");
    v4hit.push_back(*policy::IpAddress::parse(std::to_string(10 + i / 65536) + "." + std::to_string((i / 256) % 256) +
                                              "." + std::to_string(i % 256) + "." + std::to_string(k % 250 + 1)));
    v6hit.push_back(*policy::IpAddress::parse("2001:db8:" + std::to_string(i) + "::" + std::to_string(k % 9000 + 1)));
    v4miss.push_back(*policy::IpAddress::parse("192.0.2." + std::to_string(k % 250 + 1)));
  }
  size_t hits = 0, before = 0;
  const int rounds = 40;
  auto rate = [&] {
    const double r = 100.0 * static_cast<double>(hits - before) / (rounds * 4096.0);
    before = hits;
    return r;
  };
  std::printf("%-44s %8s %6s\n", "lookup", "ns/op", "hit %");
  {
    const double ns = nsPer(exact, c, rounds, hits);
    std::printf("%-44s %8.1f %6.0f\n", "name, exact hit (3 labels)", ns, rate());
  }
  {
    const double ns = nsPer(suffix, c, rounds, hits);
    std::printf("%-44s %8.1f %6.0f\n", "name, suffix hit (6 labels)", ns, rate());
  }
  {
    const double ns = nsPer(anchored, c, rounds, hits);
    std::printf("%-44s %8.1f %6.0f\n", "name, anchored-label hit (4 labels)", ns, rate());
  }
  {
    const double ns = nsPer(miss, c, rounds, hits);
    std::printf("%-44s %8.1f %6.0f\n", "name, miss (4 labels)", ns, rate());
  }
  {
    const double ns = nsPerAddress(v4hit, c, rounds, hits);
    std::printf("%-44s %8.1f %6.0f\n", "address, IPv4 hit", ns, rate());
  }
  {
    const double ns = nsPerAddress(v6hit, c, rounds, hits);
    std::printf("%-44s %8.1f %6.0f\n", "address, IPv6 hit", ns, rate());
  }
  {
    const double ns = nsPerAddress(v4miss, c, rounds, hits);
    std::printf("%-44s %8.1f %6.0f\n", "address, IPv4 miss", ns, rate());
  }
  const size_t expected = static_cast<size_t>(rounds) * 4096 * 5;  // five sets hit, two miss
  std::printf("hits: %zu (expected %zu)\n", hits, expected);
  return hits == expected ? 0 : 1;
}
