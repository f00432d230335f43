// SPDX-License-Identifier: Apache-2.0
/// @file The one policy of the test suite for inputs that do not live in this repository: a
/// missing asset, shared fixture or CLI binary FAILS the test that needs it, with a message that
/// names what is missing and the script (or setup step) that provides it. Never an early return,
/// never a silent pass. (Only GPU tests, label `gpu`, skip: through a Boost.Test precondition,
/// where no device exists.)
///
/// Each helper returns the path so that the check and the use are one expression:
///   const auto lid = polyglot::testing::require_data_asset("lid.176.ftz");
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <polyglot/core/paths.hpp>
#include <string>
#include <string_view>

namespace polyglot::testing {

/// Fails the current test unless @p p exists; @p provider says where it comes from.
inline std::filesystem::path require_path(const std::filesystem::path& p,
                                          std::string_view provider) {
    std::error_code ec;
    BOOST_TEST_REQUIRE(std::filesystem::exists(p, ec),
                       "missing test asset " << p.string() << ": " << provider);
    return p;
}

/// A model asset scripts/bootstrap fetches into the data directory (lid.176.ftz,
/// cl100k_base.json, o200k_base.json).
inline std::filesystem::path require_data_asset(std::string_view name) {
    return require_path(data_dir() / name,
                        "run scripts/bootstrap --assets (it fetches it into $POLYGLOT_DATA_DIR, "
                        "default ~/.cache/polyglot)");
}

/// An oracle input scripts/fetch-test-assets fetches into <data dir>/test-assets/ (real
/// tokenizer.json / tokenizer_config.json files), e.g. "llama3/tokenizer.json".
inline std::filesystem::path require_test_asset(std::string_view relative) {
    return require_path(data_dir() / "test-assets" / relative,
                        "run scripts/fetch-test-assets (it fetches it into "
                        "$POLYGLOT_DATA_DIR/test-assets)");
}

/// A file of the shared checkout (fixtures, reference results), e.g. "reference/x.jsonl".
inline std::filesystem::path require_shared(std::string_view relative) {
    return require_path(std::filesystem::path("../shared") / relative,
                        "run the tests from the project root (ctest does) with the shared "
                        "checkout at ../shared");
}

/// The polyglot CLI binary, which ctest passes in $POLYGLOT_CLI.
inline std::string require_cli() {
    const char* c = std::getenv("POLYGLOT_CLI");
    BOOST_TEST_REQUIRE((c != nullptr && *c != '\0'),
                       "POLYGLOT_CLI is not set: run the tests through ctest, which sets it to "
                       "the polyglot binary");
    require_path(c, "POLYGLOT_CLI names no file: build the polyglot_cli target");
    return c;
}

}  // namespace polyglot::testing
