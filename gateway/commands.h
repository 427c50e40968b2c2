// Subcommands of the `flowgate` binary, all parsed by one CLI11 parser
// (main.cc): every command and subcommand takes --help and --version,
// `--opt value` and `--opt=value`, and `--` to end the options.
//
// Each add*Command() adds its subcommand(s) to the app; when the command line
// names one, parsing sets `action` to its body, which main() then runs and
// whose result is the exit status: 0 success, 1 a runtime failure, 2 a usage
// or configuration error (nothing was started or changed).
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace fg::cli {

using Action = std::function<int()>;

void addRunCommand(CLI::App& app, Action& action);       // gateway/cmd_run.cc
void addClassifyCommand(CLI::App& app, Action& action);  // gateway/cmd_classify.cc
void addPolicyCommand(CLI::App& app, Action& action);    // gateway/cmd_policy.cc
void addAppsCommand(CLI::App& app, Action& action);      // gateway/cmd_apps.cc

// Adds `--version` to a (sub)command: every level answers it.
void addVersionFlag(CLI::App& app);

}  // namespace fg::cli
