// Offline throughput benchmark: the corpus captures looped to >= N packets,
// addresses shifted on every pass so each pass makes new flows, one worker.
//
// Reports, in one run and on the same packets:
//   floor: read-and-decode only (frames already in memory)
//   full:  decode + flow table + nDPI classification (the `classify` engine)
// and the ratio between them, plus flows/s, Mbit/s, peak RSS, and the memory
// of 1 M tracked flows (a synthetic flood of distinct TCP SYNs, so every flow
// holds nDPI state: the worst case). Prints figures; asserts nothing.
//
// usage: offline_bench [CORPUS_DIR] [--packets N] [--flows N]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "gateway/core/pipeline.h"
#include "gateway/dissect/dissecting_classifier.h"
#include "gateway/dpi/ndpi_classifier.h"
#include "gateway/pcap/capture_reader.h"

using namespace fg;

namespace {

struct StoredFrame {
  core::LinkType link;
  core::Timestamp ts;
  std::vector<uint8_t> bytes;
};

class CountingSink final : public core::FlowEventSink {
 public:
  void onClassified(const core::Flow&) override { ++classified; }
  void onFlowEnd(const core::Flow&, core::EndReason) override { ++ended; }
  uint64_t classified = 0, ended = 0;
};

long currentRssKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}
long peakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Makes pass `pass` of a packet distinct: adds the pass number to both
// addresses' last bytes (keeps the flow's shape, changes its key).
void shift(core::Packet& p, uint32_t pass) {
  for (core::IpAddress* a : {&p.src, &p.dst}) {
    const size_t n = a->size();
    a->bytes[n - 2] = static_cast<uint8_t>(a->bytes[n - 2] + (pass >> 8));
    a->bytes[n - 3] = static_cast<uint8_t>(a->bytes[n - 3] + pass);
  }
}

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string corpus = FLOWGATE_CORPUS_DIR;
  uint64_t target_packets = 1'000'000;
  uint64_t flood_flows = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--packets" && i + 1 < argc) target_packets = std::stoull(argv[++i]);
    else if (a == "--flows" && i + 1 < argc) flood_flows = std::stoull(argv[++i]);
    else corpus = a;
  }

  // Load every capture into memory first: the benchmark measures the engine,
  // not the disk.
  std::vector<StoredFrame> frames;
  uint64_t frame_bytes = 0;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(corpus + "/pcap")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  core::Timestamp base = 0;
  for (const auto& path : files) {
    auto reader = pcap::CaptureReader::open(path.string());
    if (!reader) continue;
    // Re-time every capture to follow the previous one, so the replay is one
    // continuous stream and idle expiry behaves as on a live link.
    core::Timestamp first = -1, last = 0;
    (void)(*reader)->forEach([&](const pcap::Frame& f) {
      if (first < 0) first = f.ts;
      const core::Timestamp t = base + std::max<core::Timestamp>(0, f.ts - first);
      last = std::max(last, t);
      frames.push_back({f.link, t, {f.bytes.begin(), f.bytes.end()}});
      frame_bytes += f.bytes.size();
    });
    base = last + core::kSecond;
  }
  if (frames.empty()) {
    std::fprintf(stderr, "offline_bench: no captures under %s/pcap\n", corpus.c_str());
    return 77;
  }
  const uint32_t passes = static_cast<uint32_t>((target_packets + frames.size() - 1) / frames.size());
  const uint64_t total_packets = static_cast<uint64_t>(passes) * frames.size();
  const double total_bits = static_cast<double>(frame_bytes) * passes * 8;
  const core::Timestamp span = base;
  std::printf("offline_bench: %zu frames from %zu captures, %u passes = %llu packets\n",
              frames.size(), files.size(), passes, static_cast<unsigned long long>(total_packets));

  // Floor: read and decode only.
  uint64_t decoded = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (uint32_t pass = 0; pass < passes; ++pass)
    for (const auto& f : frames) {
      core::DecodeResult d = core::decode(f.link, f.bytes, f.ts + pass * span);
      if (d.ok()) {
        shift(d.packet, pass);
        decoded += d.packet.src.bytes[0] & 1;  // keep the work observable
      }
    }
  const double floor_s = seconds(std::chrono::steady_clock::now() - t0);

  // Full engine; again with first-packet hints (DNS answers parsed into the
  // shared cache under its lock, a lookup per new flow, learned servers).
  dissect::DissectingClassifier classifier(std::make_unique<dpi::NdpiClassifier>());
  auto runEngine = [&](core::Hints* hints, core::PipelineCounters& counters, uint64_t& created,
                       const catalog::CatalogHolder* apps = nullptr) {
    core::ManualClock clock;
    CountingSink sink;
    core::PipelineConfig config;
    config.hints = hints;
    config.catalog = apps;
    core::Pipeline pipeline(config, classifier, clock, sink);
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t pass = 0; pass < passes; ++pass)
      for (const auto& f : frames) {
        const core::Timestamp ts = f.ts + static_cast<core::Timestamp>(pass) * span;
        clock.advanceTo(ts);
        core::DecodeResult d = core::decode(f.link, f.bytes, ts);
        if (!d.ok()) {
          (void)pipeline.step(f.link, f.bytes, ts);  // counted as a decode error
          continue;
        }
        shift(d.packet, pass);
        (void)pipeline.step(d.packet);
      }
    pipeline.finish();
    counters = pipeline.counters();
    created = pipeline.table().counters().created;
    return seconds(std::chrono::steady_clock::now() - start);
  };
  core::PipelineCounters counters, hint_counters;
  uint64_t flows = 0, hint_flows = 0;
  const double full_s = runEngine(nullptr, counters, flows);
  // The same with the shipped application catalog (docs/catalog.md), as
  // `flowgate classify` runs by default.
  catalog::CatalogHolder apps;
  double catalog_s = 0;
  core::PipelineCounters catalog_counters;
  uint64_t catalog_flows = 0;
  if (auto loaded = catalog::loadCatalogDirs(FLOWGATE_SOURCE_APPS_DIR, ""); loaded.ok()) {
    apps.set(loaded.value());
    catalog_s = runEngine(nullptr, catalog_counters, catalog_flows, &apps);
  }
  core::Hints hints{core::HintsConfig{}};
  const double hints_s = runEngine(&hints, hint_counters, hint_flows);
  const core::HintsCounters hc = hints.counters();

  std::printf("\n%-34s %14s %14s\n", "", "decode only", "full engine");
  std::printf("%-34s %14.0f %14.0f\n", "packets/s", total_packets / floor_s, total_packets / full_s);
  std::printf("%-34s %14.0f %14.0f\n", "Mbit/s", total_bits / floor_s / 1e6, total_bits / full_s / 1e6);
  std::printf("%-34s %14s %14.0f\n", "flows/s", "-", flows / full_s);
  std::printf("%-34s %14.3f %14.3f\n", "seconds", floor_s, full_s);
  std::printf("full engine / decode-only throughput ratio: %.3f\n", floor_s / full_s);
  std::printf("flows: %llu, inspected packets: %llu (%.1f%% of packets), final %llu, give-up %llu\n",
              static_cast<unsigned long long>(flows),
              static_cast<unsigned long long>(counters.inspected_packets),
              100.0 * counters.inspected_packets / total_packets,
              static_cast<unsigned long long>(counters.classified_final),
              static_cast<unsigned long long>(counters.classified_giveup));
  if (catalog_s > 0)
    std::printf("with the application catalog: %.0f packets/s, %.3f s; catalog / no-catalog throughput ratio: %.3f "
                "(%llu flows refined)\n",
                total_packets / catalog_s, catalog_s, full_s / catalog_s,
                static_cast<unsigned long long>(catalog_counters.catalog_refined));
  std::printf("with first-packet hints: %.0f packets/s, %.3f s; hints / no-hints throughput ratio: %.3f\n",
              total_packets / hints_s, hints_s, full_s / hints_s);
  std::printf("  %llu DNS responses read, %llu addresses learned, %llu lookups, %llu dns + %llu cache hits, "
              "%llu flows answered early (of %llu)\n",
              static_cast<unsigned long long>(hc.dns_responses), static_cast<unsigned long long>(hc.dns_addresses),
              static_cast<unsigned long long>(hc.lookups), static_cast<unsigned long long>(hc.dns_hits),
              static_cast<unsigned long long>(hc.cache_hits),
              static_cast<unsigned long long>(hint_counters.early_answers),
              static_cast<unsigned long long>(hint_flows));
  std::printf("peak RSS after corpus passes: %.1f MiB (decoded marker %llu)\n", peakRssKb() / 1024.0,
              static_cast<unsigned long long>(decoded));

  // Memory at 1 M tracked flows: distinct TCP SYNs, each flow still being
  // inspected (nDPI state allocated): the worst case for a SYN flood.
  {
    core::PipelineConfig fc;
    fc.table.max_flows = flood_flows;
    fc.table.timeouts.tcp_opening = 3600 * core::kSecond;
    CountingSink fsink;
    core::ManualClock fclock;
    core::Pipeline flood(fc, classifier, fclock, fsink);
    const long rss_before = currentRssKb();
    uint8_t pkt[40] = {0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 0, 10, 200, 0, 1,
                       0, 0, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0};
    t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < flood_flows; ++i) {
      // Source 10.x.y.z:port varies per flow.
      pkt[13] = static_cast<uint8_t>(i >> 16);
      pkt[14] = static_cast<uint8_t>(i >> 8);
      pkt[15] = static_cast<uint8_t>(i);
      pkt[20] = static_cast<uint8_t>(0x80 | ((i >> 24) & 0x7f));
      pkt[21] = static_cast<uint8_t>(i);
      (void)flood.step(core::LinkType::Raw, pkt, static_cast<core::Timestamp>(i));
    }
    const double flood_s = seconds(std::chrono::steady_clock::now() - t0);
    const long rss_after = currentRssKb();
    const double per_flow = (rss_after - rss_before) * 1024.0 / flood.table().size();
    std::printf("\n1 M-flow flood: %zu flows tracked (all still inspecting), %.0f new flows/s\n",
                flood.table().size(), flood_flows / flood_s);
    std::printf("  RSS growth %.1f MiB = %.0f bytes per tracked flow (nDPI state %zu bytes, Flow %zu bytes)\n",
                (rss_after - rss_before) / 1024.0, per_flow, dpi::NdpiClassifier::flowStateBytes(),
                sizeof(core::Flow));
    std::printf("  peak RSS %.1f MiB\n", peakRssKb() / 1024.0);
  }
  return 0;
}
