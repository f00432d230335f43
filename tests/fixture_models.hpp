// SPDX-License-Identifier: Apache-2.0
/// @file The fixture models of ../shared (tiny Hugging Face models and what transformers
/// computed with them), for every test that loads one. Tests run from the project root.
#pragma once

#include <filesystem>
#include <string>

#include "support/require_asset.hpp"

namespace fixture_models {

/// ../shared/fixtures/models/NAME; fails the test, saying what is missing, when it is absent
/// (the suite's one missing-asset policy: tests/support/require_asset.hpp).
inline std::filesystem::path fixture(const std::string& name) {
    return polyglot::testing::require_shared("fixtures/models/" + name + "/expected.json")
        .parent_path();
}

}  // namespace fixture_models
