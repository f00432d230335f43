// SPDX-License-Identifier: Apache-2.0
/// @file Subcommand registry of the polyglot CLI. Each tools/polyglot/<name>.cpp defines
/// `int run(int argc, char** argv)` (argv[0] is the subcommand name) and registers it:
///     POLYGLOT_REGISTER_COMMAND("score", "score SFT datasets", run_score);
/// Return codes: 0 success, 1 runtime failure, 2 usage error. A subcommand may throw
/// polyglot::error; main() prints it as `polyglot <cmd>: error: <what>` and returns 1
/// (2 for argument errors).
#pragma once

#include <map>
#include <string>

namespace polyglot::cli {

using command_fn = int (*)(int argc, char** argv);

struct command {
    std::string summary;
    command_fn run;
};

std::map<std::string, command>& commands();

inline bool register_command(const char* name, const char* summary, command_fn fn) {
    commands()[name] = command{summary, fn};
    return true;
}

}  // namespace polyglot::cli

#define POLYGLOT_CLI_CAT2_(a, b) a##b
#define POLYGLOT_CLI_CAT_(a, b) POLYGLOT_CLI_CAT2_(a, b)
#define POLYGLOT_REGISTER_COMMAND(name, summary, fn)                                   \
    [[maybe_unused]] static const bool POLYGLOT_CLI_CAT_(polyglot_cli_registered_, \
                                                        __LINE__) =                \
        ::polyglot::cli::register_command(name, summary, fn)
