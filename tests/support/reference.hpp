// SPDX-License-Identifier: Apache-2.0
/// @file What the analysis tests that compare with the paper repository's committed results
/// share: its place (ref_dir), the analysis headers, running the CLI, and the names they use.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <polyglot/analysis/inputs.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/table.hpp>
#include <string>
#include <vector>

#include "support/require_asset.hpp"
#include "unit/test_cli.hpp"

namespace tt = boost::test_tools;

namespace reference_test {
using namespace polyglot;
using namespace polyglot::analysis;
using polyglot::testing::cli_stdout;
/// The reference's committed results, beside the checkout (the tests run in the build
/// directory).
inline const std::string ref_dir = "../shared/reference";
}  // namespace reference_test
