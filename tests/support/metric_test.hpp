// SPDX-License-Identifier: Apache-2.0
/// @file What the metric unit tests share: hand-built records (records.hpp) and reading a
/// finished metric's JSON (report.hpp), with their names brought into the tests' scope.
#pragma once

#include <boost/test/unit_test.hpp>

#include "support/records.hpp"
#include "support/report.hpp"

namespace metric_test {
using polyglot::testing::finalize_json;
using polyglot::testing::json_number;
using polyglot::testing::make_records;
}  // namespace metric_test
