// `flowgate run --config PATH`: the inline gateway daemon.
//
// Start-up order (fail fast, and never touch the kernel before the config
// and the policy are valid):
//   config -> policy (+ mark layout check) -> [--check stops here] ->
//   daemon::run: single-instance lock -> queue mode detection -> nft table
//   (one atomic batch, owner flag) -> fwmark rules and routes -> conntrack
//   accounting -> queue workers -> control socket -> READY=1 to systemd.
// SIGHUP reloads the policy (all-or-nothing; sets and routes follow a good
// one). SIGUSR1 reopens the events file. SIGTERM/SIGINT: delete the table
// (no new packets are queued), let the workers answer what is still queued,
// remove rules/routes, exit 0.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "common/log.h"
#include "gateway/app_catalog.h"
#include "gateway/commands.h"
#include "gateway/config.h"
#include "gateway/daemon/daemon.h"
#include "gateway/daemon/reload.h"
#include "gateway/dpi/ndpi_catalog.h"

namespace fg::cli {
namespace {

// Loads and checks a policy without installing it; logs every error.
bool policyIsValid(const Config& cfg, const policy::LoadOptions& options) {
  auto loaded = policy::loadPolicy(cfg.policy_paths, options, 1);
  if (!loaded) {
    for (const auto& e : loaded.errors()) log::error("policy_error", {{"error", policy::formatError(e)}});
    return false;
  }
  auto mark_errors = daemon::checkMarks(*loaded.value(), cfg.marks);
  for (const auto& e : mark_errors) log::error("policy_error", {{"error", e}});
  return mark_errors.empty();
}

int run(const std::string& config_path, bool check_only) {
  ConfigLoad load = loadConfig(config_path);
  if (!load.errors.empty()) {
    for (const auto& e : load.errors) std::cerr << formatConfigError(config_path, e) << "\n";
    std::cerr << "flowgate run: " << load.errors.size() << " error(s) in the configuration; nothing was changed\n";
    return 2;
  }
  const Config cfg = load.config;
  log::Level level;
  if (log::parseLevel(cfg.log_level, level)) log::setLevel(level);

  // The application catalog first: the policy may name its applications.
  AppCatalogState& apps = appCatalogState();
  if (auto errors = apps.load(cfg.apps_enabled, cfg.apps_shipped, cfg.apps_local); !errors.empty()) {
    for (const auto& e : errors) log::error("catalog_error", {{"error", e}});
    std::cerr << "flowgate run: the application catalog is invalid (see above); nothing was changed\n";
    return 1;
  }
  const policy::LoadOptions options{.catalog = apps.names(), .zoneinfo_dir = "/usr/share/zoneinfo"};
  if (!policyIsValid(cfg, options)) {
    std::cerr << "flowgate run: the policy is invalid (see above); nothing was changed\n";
    return 1;
  }
  // MQTT TLS files are read by the sinks' network threads, after the
  // privilege drop: check them now, before the kernel is touched.
  int unreadable = 0;
  for (const auto& s : cfg.mqtt_sinks) {
    for (const std::string* f : {&s.ca_file, &s.cert_file, &s.key_file}) {
      if (f->empty() || ::access(f->c_str(), R_OK) == 0) continue;
      std::cerr << config_path << ": output.mqtt " << s.name << ": cannot read " << *f << ": "
                << std::strerror(errno) << "\n";
      ++unreadable;
    }
  }
  if (unreadable) {
    std::cerr << "flowgate run: " << unreadable << " unreadable TLS file(s); nothing was changed\n";
    return 2;
  }
  if (check_only) {
    std::cout << "configuration and policy are valid\n";
    return 0;
  }
  return daemon::run(cfg, options);
}

}  // namespace

void addRunCommand(CLI::App& app, Action& action) {
  struct Options {
    std::string config = "/etc/flowgate/flowgate.toml";
    bool check = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "run",
      "run the inline gateway: NFQUEUE verdicts, nft table, conntrack marks, sets and fwmark routes, "
      "the control socket (needs CAP_NET_ADMIN)");
  addVersionFlag(*sub);
  sub->add_option("--config", o->config, "configuration file")->capture_default_str();
  sub->add_flag("--check", o->check, "validate the configuration and the policy, then exit");
  sub->footer("Exit status: 0 stopped cleanly or valid (--check); 1 the policy or catalog is invalid or "
              "start-up failed; 2 the configuration or the command line is invalid.");
  sub->callback([&action, o] { action = [o] { return run(o->config, o->check); }; });
}

}  // namespace fg::cli
