// The `flowgate` binary: subcommand dispatch. Exceptions are allowed only in
// start-up and configuration code and end here with a clear message.
#include <exception>
#include <iostream>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "gateway/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: flowgate COMMAND [ARGS]\n"
    "commands:\n"
    "  run [--config PATH]       run the inline gateway (NFQUEUE, nft, marks, routes)\n"
    "  classify FILE...          classify the flows of pcap/pcapng captures (JSON lines)\n"
    "  policy check PATH...      validate policy files\n"
    "  apps list|check|lookup    the application catalog (docs/catalog.md)\n"
    "  policy eval PATH [...]    decide flow records with a policy\n"
    "  version                   print the version\n"
    "Run `flowgate COMMAND --help` for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  fg::log::setStyle(fg::log::styleFromEnvironment());
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string_view cmd = args[0];
  std::span<const std::string_view> rest(args.data() + 1, args.size() - 1);
  try {
    if (cmd == "classify") return fg::cli::classifyCommand(rest);
    if (cmd == "policy") return fg::cli::policyCommand(rest);
    if (cmd == "apps") return fg::cli::appsCommand(rest);
    if (cmd == "run") return fg::cli::runCommand(rest);
    if (cmd == "version" || cmd == "--version") {
      std::cout << "flowgate " << FLOWGATE_VERSION << "\n";
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "flowgate " << cmd << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "flowgate: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}
