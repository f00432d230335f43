// SPDX-License-Identifier: Apache-2.0
/// @file The fixture models of ../shared (tiny Hugging Face models and what transformers
/// computed with them), for every test that loads one. Tests run from the project root.
#pragma once

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

namespace fixture_models {

/// ../shared/fixtures/models/NAME; fails the test, saying what is missing, when it is absent.
inline std::filesystem::path fixture(const std::string& name) {
    std::filesystem::path p = std::filesystem::path("../shared/fixtures/models") / name;
    if (!std::filesystem::exists(p / "expected.json"))
        BOOST_FAIL("fixture " + p.string() +
                   " is missing: run the tests from the project root with ../shared present");
    return p;
}

}  // namespace fixture_models
