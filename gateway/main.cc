// The `flowgate` binary: one CLI11 parser for every command (commands.h).
// Exceptions are allowed only in start-up and configuration code and end
// here with a clear message.
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "common/log.h"
#include "gateway/commands.h"

namespace fg::cli {

void addVersionFlag(CLI::App& app) { app.set_version_flag("--version", std::string("flowgate ") + FLOWGATE_VERSION); }

}  // namespace fg::cli

namespace {

constexpr const char* kFooter =
    "Run `flowgate COMMAND --help` for a command's options (flowgate(8)).\n"
    "Exit status: 0 success; 1 a runtime failure (a capture could not be read, a policy did\n"
    "not validate, the kernel refused a change); 2 a usage or configuration error (nothing\n"
    "was started or changed).";

// The deepest command the parser reached (the app itself when none).
const CLI::App& deepest(const CLI::App& app) {
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  return *at;
}

// "flowgate policy check" for the deepest command the parser reached.
std::string commandPath(const CLI::App& app) {
  std::string path = "flowgate";
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) {
    at = at->get_subcommands().front();
    path += " " + at->get_name();
  }
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  fg::log::setStyle(fg::log::styleFromEnvironment());
  CLI::App app{"flowgate: layer-7 enforcement gateway for Linux routers", "flowgate"};
  fg::cli::addVersionFlag(app);
  app.require_subcommand(1, 1);
  fg::cli::Action action;
  fg::cli::addRunCommand(app, action);
  fg::cli::addClassifyCommand(app, action);
  fg::cli::addPolicyCommand(app, action);
  fg::cli::addAppsCommand(app, action);
  CLI::App* version = app.add_subcommand("version", "print the version");
  fg::cli::addVersionFlag(*version);
  version->callback([&action] {
    action = [] {
      std::cout << "flowgate " << FLOWGATE_VERSION << "\n";
      return 0;
    };
  });
  app.footer(kFooter);  // after the subcommands: they would inherit it
  if (argc == 2 && std::string_view(argv[1]) == "help") {
    std::cout << app.help();
    return 0;
  }
  if (argc == 1) {
    std::cerr << app.help();
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    std::string why = e.what();
    // CLI11 says "A subcommand is required" for a misspelt command: name it.
    const CLI::App& at = deepest(app);
    if (!at.get_subcommands([](const CLI::App*) { return true; }).empty() || &at == &app) {
      for (const std::string& extra : at.remaining()) {
        if (!extra.starts_with("-")) {
          why = "unknown command '" + extra + "'";
          break;
        }
      }
    }
    const std::string path = commandPath(app);
    std::cerr << path << ": " << why << " (" << path << " --help for usage)\n";
    return 2;
  }
  try {
    return action ? action() : 2;
  } catch (const std::exception& e) {
    std::cerr << commandPath(app) << ": " << e.what() << "\n";
    return 1;
  }
}
