// `flowgate classify FILE...`: the offline engine over capture files.
#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/app_catalog.h"
#include "gateway/commands.h"
#include "gateway/core/pipeline.h"
#include "gateway/dissect/dissecting_classifier.h"
#include "gateway/dpi/ndpi_catalog.h"
#include "gateway/dpi/ndpi_classifier.h"
#include "gateway/output/netify.h"
#include "gateway/output/record_json.h"
#include "gateway/pcap/capture_reader.h"

namespace fg::cli {
namespace {

constexpr const char* kUsage =
    "usage: flowgate classify [options] FILE...\n"
    "  Classifies every flow in pcap/pcapng FILEs and prints one JSON flow\n"
    "  record per line when the flow ends (or at end of input), then a\n"
    "  {\"event\":\"stats\"} record.\n"
    "options:\n"
    "  --budget N       packets inspected per flow at most (default 32)\n"
    "  --max-flows N    flow table cap; least recently used flows are evicted (default 1000000)\n"
    "  --hints          first-packet answers as the inline gateway has them: DNS\n"
    "                   responses in the capture fill the hint cache, DPI-classified\n"
    "                   servers are learned, and each new flow's record shows what was\n"
    "                   known at its first packet (first_answer, dns_hostname,\n"
    "                   detection_updated)\n"
    "  --apps DIR       the shipped application catalog (default: the installed\n"
    "                   one, else the source tree's apps/; docs/catalog.md)\n"
    "  --apps-local DIR the operator's catalog files (default /etc/flowgate/apps.d)\n"
    "  --no-catalog     nDPI's labels alone (no application catalog)\n"
    "  --no-stats       do not print the final stats record\n"
    "  --format F       json (flowgate's flow record, the default) or netify: Netify\n"
    "                   agent-style messages (docs/netify.md): per flow its\n"
    "                   \"flow\" (first sight), \"flow_dpi_complete\" and\n"
    "                   \"flow_purge\"; no stats record in this format\n"
    "  --netify-version N  with --format netify: 5 (default) or 4, the agent's\n"
    "                   older format (first_update_at, dhc_hit, ct_id, established)\n"
    "  --local-net CIDR with --format netify: a local network (repeatable); flows\n"
    "                   are reported from its side (local_ip, local_bytes, ...).\n"
    "                   Without it the opener (src) is the local side\n"
    "  --interface NAME with --format netify: the reported interface\n"
    "                   (default \"pcap\")\n"
    "  -q, --quiet      no summary on stderr\n";

class PrintSink final : public core::FlowEventSink {
 public:
  // `netify`: print the agent's messages for each flow when it ends: `flow`
  // (as at first sight), `flow_dpi_complete` (as when classification became
  // final) and `flow_purge` (the end).
  PrintSink(const core::Clock& clock, const output::NetifyOptions* netify)
      : clock_(clock), netify_(netify) {}
  void onClassified(const core::Flow& flow) override {
    if (netify_) classified_[flow.id] = output::flowRecord(flow, "flow", flow.last_seen);
  }
  void onFlowEnd(const core::Flow& flow, core::EndReason reason) override {
    auto record = output::flowRecord(flow, "flow", flow.last_seen, reason);
    (void)clock_;
    if (!netify_) {
      print(record);
      return;
    }
    nlohmann::json plain = record;
    nlohmann::json at_dpi = plain;
    if (auto it = classified_.find(flow.id); it != classified_.end()) {
      at_dpi = it->second;
      classified_.erase(it);
    }
    using output::NetifyType;
    if (auto r = output::netifyMessage(output::netifyFirstSight(plain), NetifyType::Flow, *netify_)) print(*r);
    if (auto r = output::netifyMessage(at_dpi, NetifyType::DpiComplete, *netify_)) print(*r);
    if (auto r = output::netifyMessage(plain, NetifyType::Purge, *netify_)) print(*r);
  }

 private:
  static void print(const nlohmann::ordered_json& record) {
    std::string line = output::encodeLine(record);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
  }

  const core::Clock& clock_;
  const output::NetifyOptions* netify_;
  std::unordered_map<uint64_t, nlohmann::json> classified_;  // flows classified, not yet ended
};

bool parseNumber(std::string_view s, uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

int classifyCommand(std::span<const std::string_view> args) {
  core::PipelineConfig config;
  std::vector<std::string> files;
  bool stats = true, quiet = false, hints_on = false, netify = false, catalog_on = true;
  std::string apps_dir = defaultAppsDir(), apps_local = kDefaultLocalAppsDir;
  output::NetifyOptions netify_options;
  netify_options.interface = "pcap";
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&](uint64_t& out, uint64_t min, uint64_t max) {
      if (i + 1 >= args.size() || !parseNumber(args[i + 1], out) || out < min || out > max) {
        std::cerr << "flowgate classify: " << a << " needs a number from " << min << " to " << max
                  << "\n";
        return false;
      }
      ++i;
      return true;
    };
    uint64_t n = 0;
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--budget") {
      if (!value(n, 1, 10000)) return 2;
      config.packet_budget = static_cast<uint16_t>(n);
    } else if (a == "--max-flows") {
      if (!value(n, 1, 100'000'000)) return 2;
      config.table.max_flows = n;
    } else if (a == "--hints") {
      hints_on = true;
    } else if (a == "--no-catalog") {
      catalog_on = false;
    } else if ((a == "--apps" || a == "--apps-local") && i + 1 < args.size()) {
      (a == "--apps" ? apps_dir : apps_local) = std::string(args[++i]);
    } else if (a == "--no-stats") {
      stats = false;
    } else if (a == "--format" || a == "--local-net" || a == "--interface" || a == "--netify-version") {
      if (i + 1 >= args.size()) {
        std::cerr << "flowgate classify: " << a << " needs a value\n";
        return 2;
      }
      std::string_view v = args[++i];
      if (a == "--format") {
        if (v != "json" && v != "netify") {
          std::cerr << "flowgate classify: --format is json or netify, not " << v << "\n";
          return 2;
        }
        netify = v == "netify";
      } else if (a == "--netify-version") {
        if (v != "4" && v != "5") {
          std::cerr << "flowgate classify: --netify-version is 4 or 5, not " << v << "\n";
          return 2;
        }
        netify_options.version = v == "4" ? 4 : 5;
      } else if (a == "--local-net") {
        if (!output::validNetifyCidr(v)) {
          std::cerr << "flowgate classify: --local-net: not an address or CIDR: " << v << "\n";
          return 2;
        }
        netify_options.local_networks.emplace_back(v);
      } else {
        netify_options.interface = std::string(v);
      }
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (a.starts_with("-") && a != "-") {
      std::cerr << "flowgate classify: unknown option " << a << "\n" << kUsage;
      return 2;
    } else {
      files.emplace_back(a);
    }
  }
  if (files.empty()) {
    std::cerr << kUsage;
    return 2;
  }

  core::Hints hints{core::HintsConfig{}};
  if (hints_on) config.hints = &hints;
  catalog::CatalogHolder apps;
  if (catalog_on) {
    auto loaded = loadAppCatalog(apps_dir, apps_local);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors()) std::cerr << policy::formatError(e) << "\n";
      std::cerr << "flowgate classify: the application catalog has errors (--no-catalog runs without it)\n";
      return 2;
    }
    apps.set(loaded.value());
    config.catalog = &apps;
  }
  dissect::DissectingClassifier classifier(std::make_unique<dpi::NdpiClassifier>());
  core::ManualClock clock;
  netify_options.protocol_id = dpi::ndpiProtocolId;
  PrintSink sink(clock, netify ? &netify_options : nullptr);
  core::Pipeline pipeline(config, classifier, clock, sink);
  int rc = 0;
  for (const auto& file : files) {
    auto reader = pcap::CaptureReader::open(file == "-" ? "/dev/stdin" : file);
    if (!reader) {
      std::cerr << "flowgate classify: " << reader.error().message() << "\n";
      rc = 1;
      continue;
    }
    auto n = (*reader)->forEach([&](const pcap::Frame& f) {
      clock.advanceTo(f.ts);
      pipeline.step(f.link, f.bytes, f.ts);
    });
    if (!n) {
      std::cerr << "flowgate classify: " << file << ": " << n.error().message() << "\n";
      rc = 1;
    }
  }
  pipeline.finish(core::EndReason::EndOfInput);
  const auto& c = pipeline.counters();
  if (stats && !netify)
    std::cout << output::encodeLine(output::statsRecord(c, pipeline.table().counters(), clock.now()))
              << "\n";
  std::cout.flush();
  if (!quiet)
    std::fprintf(stderr, "flowgate classify: %llu packets, %llu flows, %llu decode errors\n",
                 static_cast<unsigned long long>(c.packets),
                 static_cast<unsigned long long>(pipeline.table().counters().created),
                 static_cast<unsigned long long>(c.decode_errors.total()));
  return rc;
}

}  // namespace fg::cli
