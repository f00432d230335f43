// SPDX-License-Identifier: Apache-2.0
// polyglot: dispatch to a subcommand. Global flags: --help, --version.
#include "command.hpp"

#include <polyglot/core/error.hpp>
#include <polyglot/version.hpp>

#include <boost/program_options/errors.hpp>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

namespace polyglot::cli {
std::map<std::string, command>& commands() {
    static std::map<std::string, command> m;
    return m;
}
}  // namespace polyglot::cli

namespace {
void usage(std::FILE* to) {
    std::fprintf(to,
                 "polyglot %s: which teacher model makes the best multilingual SFT data\n\n"
                 "usage: polyglot <command> [options]   (polyglot <command> --help)\n\n"
                 "commands:\n",
                 POLYGLOT_VERSION_STRING);
    for (const auto& [name, cmd] : polyglot::cli::commands())
        std::fprintf(to, "  %-12s %s\n", name.c_str(), cmd.summary.c_str());
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    std::string first = argv[1];
    if (first == "--help" || first == "-h" || first == "help") {
        if (first == "help" && argc > 2) {
            auto it = polyglot::cli::commands().find(argv[2]);
            if (it != polyglot::cli::commands().end()) {
                char help[] = "--help";
                char* sub[] = {argv[2], help, nullptr};
                return it->second.run(2, sub);
            }
        }
        usage(stdout);
        return 0;
    }
    if (first == "--version" || first == "-V") {
        std::printf("polyglot %s\n", POLYGLOT_VERSION_STRING);
        return 0;
    }
    auto it = polyglot::cli::commands().find(first);
    if (it == polyglot::cli::commands().end()) {
        std::fprintf(stderr, "polyglot: unknown command '%s'\n\n", first.c_str());
        usage(stderr);
        return 2;
    }
    try {
        return it->second.run(argc - 1, argv + 1);
    } catch (const boost::program_options::error& e) {
        std::fprintf(stderr, "polyglot %s: %s (see polyglot %s --help)\n", first.c_str(),
                     e.what(), first.c_str());
        return 2;
    } catch (const polyglot::error& e) {
        std::fprintf(stderr, "polyglot %s: error: %s\n", first.c_str(), e.what());
        return e.code() == polyglot::errc::invalid_argument ? 2 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "polyglot %s: internal error: %s\n", first.c_str(), e.what());
        return 1;
    }
}
