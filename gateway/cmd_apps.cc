// `flowgate apps list|check|lookup`: the application catalog (docs/catalog.md).
#include <charconv>
#include <iostream>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "gateway/app_catalog.h"
#include "gateway/commands.h"

namespace fg::cli {
namespace {

constexpr const char* kUsage =
    "usage: flowgate apps COMMAND [options]\n"
    "  list                     every application: name, category, origin, patterns, ranges\n"
    "  check                    validate the catalog files (exit 1 on errors, every one listed)\n"
    "  lookup NAME-OR-ADDRESS   what the catalog says of a hostname or a server address\n"
    "options:\n"
    "  --apps DIR        the shipped catalog (default: the installed one, else the source tree's)\n"
    "  --apps-local DIR  the operator's files (default /etc/flowgate/apps.d)\n"
    "  --port N          with lookup of an address: the server port (for entries with port hints)\n";

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

}  // namespace

int appsCommand(std::span<const std::string_view> args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string_view cmd = args[0];
  std::string shipped = defaultAppsDir(), local = kDefaultLocalAppsDir, what;
  uint16_t port = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if ((a == "--apps" || a == "--apps-local" || a == "--port") && i + 1 < args.size()) {
      const std::string_view v = args[++i];
      if (a == "--apps") shipped = v;
      else if (a == "--apps-local") local = v;
      else {
        unsigned n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > 65535) {
          std::cerr << "flowgate apps: --port needs a port number\n";
          return 2;
        }
        port = static_cast<uint16_t>(n);
      }
    } else if (cmd == "lookup" && what.empty() && !a.starts_with("-")) {
      what = a;
    } else {
      std::cerr << "flowgate apps: unexpected argument '" << a << "'\n" << kUsage;
      return 2;
    }
  }
  if (cmd != "list" && cmd != "check" && cmd != "lookup") {
    std::cerr << "flowgate apps: unknown command '" << cmd << "'\n" << kUsage;
    return 2;
  }
  if (cmd == "lookup" && what.empty()) {
    std::cerr << "flowgate apps lookup: expected a hostname or an address\n";
    return 2;
  }
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

}  // namespace fg::cli
