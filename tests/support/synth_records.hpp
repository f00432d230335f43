// SPDX-License-Identifier: Apache-2.0
/// @file The paper's schema of a synthesized SFT record (`polyglot synthesize` output), for the
/// tests that check the records the CLI writes with a local or a remote teacher.
#pragma once

#include <boost/test/unit_test.hpp>
#include <polyglot/json/value.hpp>
#include <string>
#include <vector>

namespace polyglot::testing {

/// Checks that @p r has exactly the record's keys, in the paper's order.
inline void check_record_keys(const analysis::json_value& r) {
    static const std::vector<std::string> keys = {
        "id",    "source", "language", "strategy", "source_id",    "synth_prompt",
        "model", "prompt", "response", "messages", "prompt_input", "response_input"};
    std::vector<std::string> got;
    for (const auto& m : r.as_object()) got.push_back(m.key);
    BOOST_TEST(got == keys, boost::test_tools::per_element());
}

}  // namespace polyglot::testing
