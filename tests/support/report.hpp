// SPDX-License-Identifier: Apache-2.0
/// @file Reading metric sections and reports in tests: a metric state finalized to its JSON
/// object, and one number of a JSON text looked up by key.
#pragma once

#include <boost/test/unit_test.hpp>
#include <limits>
#include <polyglot/io/json_writer.hpp>
#include <string>

namespace polyglot::testing {

/// The JSON object @p m writes for state @p s (what a report's metric section holds).
template <class Metric>
std::string finalize_json(const Metric& m, const typename Metric::state& s) {
    io::json_writer w;
    w.begin_object();
    m.finalize(s, w);
    w.end_object();
    return w.take();
}

/// The number after the first `"k":` in @p json (compact or pretty-printed); NaN for `null`.
/// Fails the test when the key is missing.
inline double json_number(const std::string& json, const std::string& k) {
    auto p = json.find("\"" + k + "\":");
    BOOST_REQUIRE_MESSAGE(p != std::string::npos, "missing key " << k);
    p += k.size() + 3;
    while (p < json.size() && json[p] == ' ') ++p;
    if (json.compare(p, 4, "null") == 0) return std::numeric_limits<double>::quiet_NaN();
    return std::stod(json.substr(p));
}

}  // namespace polyglot::testing
