// SPDX-License-Identifier: Apache-2.0
// Helpers of the eval tests that run the fixture models on the cpu plugin.
#pragma once

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <polyglot/plugin/services.hpp>
#include <string>

namespace eval_test {

/// ../shared/fixtures/models/NAME; fails the test when it is missing.
inline std::filesystem::path fixture(const std::string& name) {
    std::filesystem::path p = std::filesystem::path("../shared/fixtures/models") / name;
    if (!std::filesystem::exists(p / "config.json"))
        BOOST_FAIL("fixture " + p.string() +
                   " is missing: run the tests from the project root with ../shared present");
    return p;
}

/// The cpu plugin of this build.
inline polyglot::backend_options cpu() {
    polyglot::backend_options o;
    o.backend = "cpu";
    o.plugin_dirs = {std::filesystem::path(POLYGLOT_BINARY_DIR) / "plugins"};
    return o;
}

}  // namespace eval_test
