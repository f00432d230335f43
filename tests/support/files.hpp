// SPDX-License-Identifier: Apache-2.0
/// @file Small file helpers the unit tests share: whole-file reads that fail the test naming
/// the file, and per-process temporary paths.
#pragma once

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace polyglot::testing {

/// The bytes of @p p; fails the test, naming the file, when it cannot be read.
inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(f, "cannot read " + p.string());
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

/// A path in the temporary directory unique to this process: polyglot_<suite>_<pid>_<name>.
inline std::filesystem::path temp_path(std::string_view suite, const std::string& name) {
    return std::filesystem::temp_directory_path() /
           ("polyglot_" + std::string(suite) + "_" + std::to_string(::getpid()) + "_" + name);
}

}  // namespace polyglot::testing
