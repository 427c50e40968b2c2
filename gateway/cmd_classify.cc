// `flowgate classify FILE...`: the offline engine over capture files.
#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>

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

struct ClassifyOptions {
  core::PipelineConfig config;
  std::vector<std::string> files;
  bool no_stats = false, quiet = false, hints_on = false, no_catalog = false;
  std::string format = "json";
  std::string apps_dir = defaultAppsDir(), apps_local = kDefaultLocalAppsDir;
  output::NetifyOptions netify_options;
};

int classify(ClassifyOptions& o) {
  core::PipelineConfig& config = o.config;
  const auto& files = o.files;
  const bool stats = !o.no_stats, quiet = o.quiet, hints_on = o.hints_on, netify = o.format == "netify";
  const bool catalog_on = !o.no_catalog;
  const std::string& apps_dir = o.apps_dir;
  const std::string& apps_local = o.apps_local;
  output::NetifyOptions& netify_options = o.netify_options;
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

}  // namespace

void addClassifyCommand(CLI::App& app, Action& action) {
  auto o = std::make_shared<ClassifyOptions>();
  o->netify_options.interface = "pcap";
  CLI::App* sub = app.add_subcommand(
      "classify",
      "classify every flow in pcap/pcapng captures; prints one JSON flow record per line when the flow ends "
      "(or at end of input), then a {\"event\":\"stats\"} record");
  addVersionFlag(*sub);
  sub->add_option("FILE", o->files, "capture files (pcap or pcapng; - reads standard input)")->required();
  sub->add_option("--budget", o->config.packet_budget, "packets inspected per flow at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  sub->add_option("--max-flows", o->config.table.max_flows,
                  "flow table cap; least recently used flows are evicted")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  sub->add_flag("--hints", o->hints_on,
                "first-packet answers as the inline gateway has them: DNS responses in the capture fill the "
                "hint cache, DPI-classified servers are learned, and each new flow's record shows what was known "
                "at its first packet (first_answer, dns_hostname, detection_updated)");
  sub->add_option("--apps", o->apps_dir,
                  "the shipped application catalog (default: the installed one, else the source tree's apps/; "
                  "docs/catalog.md)");
  sub->add_option("--apps-local", o->apps_local, "the operator's catalog files")->capture_default_str();
  sub->add_flag("--no-catalog", o->no_catalog, "nDPI's labels alone (no application catalog)");
  sub->add_flag("--no-stats", o->no_stats, "do not print the final stats record");
  sub->add_option("--format", o->format,
                  "json (flowgate's flow record) or netify: Netify agent-style messages (docs/netify.md), per "
                  "flow its \"flow\" (first sight), \"flow_dpi_complete\" and \"flow_purge\"; no stats record")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "netify"}));
  sub->add_option("--netify-version", o->netify_options.version,
                  "with --format netify: 5, or 4 (the agent's older format: first_update_at, dhc_hit, ct_id, "
                  "established)")
      ->capture_default_str()
      ->check(CLI::IsMember({4, 5}));
  sub->add_option("--local-net", o->netify_options.local_networks,
                  "with --format netify: a local network (repeatable); flows are reported from its side "
                  "(local_ip, local_bytes, ...). Without it the opener (src) is the local side")
      ->check([](const std::string& v) {
        return output::validNetifyCidr(v) ? std::string() : "not an address or CIDR: " + v;
      });
  sub->add_option("--interface", o->netify_options.interface, "with --format netify: the reported interface")
      ->capture_default_str();
  sub->add_flag("-q,--quiet", o->quiet, "no summary on stderr");
  sub->footer("Exit status: 0 every capture was read; 1 a capture could not be read; 2 a usage error or an "
              "invalid application catalog.");
  sub->callback([&action, o] { action = [o] { return classify(*o); }; });
}

}  // namespace fg::cli
