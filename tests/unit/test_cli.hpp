// SPDX-License-Identifier: Apache-2.0
// Running the polyglot CLI ($POLYGLOT_CLI, set by ctest) from tests.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/require_asset.hpp"

extern char** environ;

namespace polyglot::testing {

/// The CLI; fails the test when it, or the default tokenizer (cl100k_base) and language-ID
/// model (lid.176.ftz) the score runs here need, are missing.
inline std::string cli() {
    static const bool assets = [] {
        require_data_asset("cl100k_base.json");
        require_data_asset("lid.176.ftz");
        return true;
    }();
    (void)assets;
    return require_cli();
}

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct cli_result {
    int status = -1;
    std::string out, err;
};

/// Runs `ENV polyglot ARGS` through sh (ARGS may hold redirections; ENV: "VAR=value ...");
/// its stdout and stderr pass through two files in @p scratch, removed afterwards.
inline cli_result run_cli(const std::string& args, const std::filesystem::path& scratch,
                          const std::string& env = {}) {
    const std::string tag = "polyglot_cli_" + std::to_string(::getpid());
    const auto o = scratch / (tag + ".stdout"), e = scratch / (tag + ".stderr");
    const std::string cmd = (env.empty() ? "" : "env " + env + " ") + cli() + " " + args + " >" +
                            o.string() + " 2>" + e.string();
    const int st = std::system(cmd.c_str());
    cli_result r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(o);
    r.err = slurp(e);
    std::filesystem::remove(o);
    std::filesystem::remove(e);
    return r;
}

/// The stdout of `polyglot ARGS` (stderr discarded), and its exit status in *@p rc (-1 when it
/// did not exit normally), for the commands that need no scoring assets (the analysis ones).
inline std::string cli_stdout(const std::string& args, int* rc = nullptr) {
    const std::string cmd = require_cli() + " " + args + " 2>/dev/null";
    std::FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_TEST_REQUIRE(p != nullptr, "cannot run " << cmd);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int st = ::pclose(p);
    if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/// Starts `polyglot ARGS` (stdout and stderr to /dev/null) and returns its pid.
inline pid_t spawn_cli(const std::string& args) {
    const std::string cmd = "exec " + cli() + " " + args + " >/dev/null 2>&1";
    const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
    pid_t pid = 0;
    const int rc =
        ::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
    BOOST_REQUIRE_MESSAGE(rc == 0, "posix_spawn failed");
    return pid;
}

/// A report without the fields that legitimately vary between runs (timing, thread count).
inline std::string mask_timing(const std::string& report) {
    std::istringstream in(report);
    std::string line, out;
    while (std::getline(in, line))
        if (line.find("\"elapsed_seconds\"") == std::string::npos &&
            line.find("\"threads\"") == std::string::npos)
            out += line + "\n";
    return out;
}

}  // namespace polyglot::testing
