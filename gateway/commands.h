// Subcommands of the `flowgate` binary. main.cc dispatches on argv[1]; each
// command gets the remaining arguments and returns the process exit code.
#pragma once

#include <span>
#include <string_view>

namespace fg::cli {

int classifyCommand(std::span<const std::string_view> args);  // gateway/cmd_classify.cc
int policyCommand(std::span<const std::string_view> args);    // gateway/cmd_policy.cc
int appsCommand(std::span<const std::string_view> args);      // gateway/cmd_apps.cc
int runCommand(std::span<const std::string_view> args);       // gateway/cmd_run.cc

}  // namespace fg::cli
