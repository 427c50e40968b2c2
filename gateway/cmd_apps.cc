// `flowgate apps list|check|lookup`: the application catalog (docs/catalog.md).
#include <iostream>
#include <memory>
#include <string_view>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "catalog/catalog.h"
#include "gateway/app_catalog.h"
#include "gateway/commands.h"

namespace fg::cli {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string portsText(const catalog::App& a) {
  std::string out;
  for (const auto& r : a.ports) {
    if (!out.empty()) out += ',';
    out += std::to_string(r.first);
    if (r.last != r.first) out += "-" + std::to_string(r.last);
  }
  return out;
}

void describe(const catalog::App& a) {
  std::cout << a.name << "\tcategory=" << a.category << "\torigin=" << catalog::toString(a.origin)
            << (a.owner ? "\towner" : "") << "\t" << a.file << ":" << a.line << "\n";
  if (!a.hosts.empty()) std::cout << "  hosts: " << join(a.hosts) << "\n";
  if (!a.ranges.empty()) std::cout << "  ranges: " << join(a.ranges) << "\n";
  if (!a.ports.empty()) std::cout << "  ports: " << portsText(a) << "\n";
  if (!a.refines.empty()) std::cout << "  refines: " << join(a.refines) << "\n";
}

struct AppsOptions {
  std::string shipped = defaultAppsDir(), local = kDefaultLocalAppsDir, what;
  uint16_t port = 0;
};

int apps(const std::string& cmd, const AppsOptions& o) {
  const std::string& shipped = o.shipped;
  const std::string& local = o.local;
  const std::string& what = o.what;
  const uint16_t port = o.port;
  auto loaded = loadAppCatalog(shipped, local);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors()) std::cerr << policy::formatError(e) << "\n";
    std::cerr << loaded.errors().size() << (loaded.errors().size() == 1 ? " error" : " errors") << "\n";
    return 1;
  }
  const catalog::Catalog& c = *loaded.value();
  if (cmd == "check") {
    std::cout << "ok: " << c.apps().size() << " applications, " << c.hostPatterns() << " host patterns, "
              << c.rangeCount() << " ranges (" << shipped << ", " << local << ")\n";
    return 0;
  }
  if (cmd == "list") {
    for (const auto& a : c.apps()) describe(*a);
    return 0;
  }
  catalog::Match m;
  if (auto addr = policy::IpAddress::parse(what)) {
    m = c.matchAddress(*addr, port);
  } else if (const catalog::App* app = c.find(what)) {
    describe(*app);
    return 0;
  } else {
    m = c.matchName(what);
  }
  if (!m) {
    std::cout << what << ": not in the catalog\n";
    return 1;
  }
  std::cout << what << ": " << m.app->name << " (matched " << m.pattern << ")\n";
  describe(*m.app);
  return 0;
}

}  // namespace

void addAppsCommand(CLI::App& app, Action& action) {
  auto o = std::make_shared<AppsOptions>();
  CLI::App* apps_cmd = app.add_subcommand("apps", "the application catalog (docs/catalog.md)");
  addVersionFlag(*apps_cmd);
  apps_cmd->require_subcommand(1, 1);
  // On `apps` itself, so they may come before or after the subcommand.
  apps_cmd->add_option("--apps", o->shipped, "the shipped catalog (default: the installed one, else the source tree's)");
  apps_cmd->add_option("--apps-local", o->local, "the operator's files")->capture_default_str();
  apps_cmd->footer("Exit status: 0 success; 1 the catalog has errors, or lookup found nothing; 2 a usage error.");
  struct Spec {
    const char* name;
    const char* help;
  };
  for (const Spec& spec : {Spec{"list", "every application: name, category, origin, patterns, ranges"},
                           Spec{"check", "validate the catalog files (exit 1 on errors, every one listed)"},
                           Spec{"lookup", "what the catalog says of a hostname, an application or a server address"}}) {
    CLI::App* sub = apps_cmd->add_subcommand(spec.name, spec.help);
    sub->fallthrough();
    addVersionFlag(*sub);
    if (std::string_view(spec.name) == "lookup") {
      sub->add_option("NAME-OR-ADDRESS", o->what, "a hostname, an application name or an address")->required();
      sub->add_option("--port", o->port, "with an address: the server port (for entries with port hints)")
          ->check(CLI::Range(1, 65535));
    }
    sub->callback([&action, o, cmd = std::string(spec.name)] { action = [o, cmd] { return apps(cmd, *o); }; });
  }
}

}  // namespace fg::cli
