// SPDX-License-Identifier: Apache-2.0
/// @file Helpers shared by `polyglot score` and `polyglot bench`.
#pragma once

#include <charconv>
#include <cmath>
#include <limits>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/score/score.hpp>
#include <string>
#include <string_view>

namespace polyglot::cli {

/// The number stored under "key" in compact JSON text @p json (first occurrence), or NaN.
/// Enough for reading back our own finalized sections; not a general JSON reader.
inline double find_number(std::string_view json, std::string_view key) {
    std::string needle;  // built by appends: GCC 12 warns (-Wrestrict, a false positive) on
    needle.reserve(key.size() + 3);  // "\"" + std::string(...)
    needle += '"';
    needle += key;
    needle += "\":";
    const auto pos = json.find(needle);
    if (pos == std::string_view::npos) return std::numeric_limits<double>::quiet_NaN();
    const char* b = json.data() + pos + needle.size();
    double v = std::numeric_limits<double>::quiet_NaN();
    auto r = std::from_chars(b, json.data() + json.size(), v);
    if (r.ec != std::errc()) return std::numeric_limits<double>::quiet_NaN();
    return v;
}

/// Compact JSON of one metric section of a finished run.
inline std::string section_json(const score::metric_bundle& b, const score::run_result& r,
                                std::size_t k) {
    io::json_writer w;
    w.begin_object();
    b.metrics[k]->finalize(*r.states[k], w);
    w.end_object();
    return w.take();
}

}  // namespace polyglot::cli
