// SPDX-License-Identifier: Apache-2.0
/// @file Helpers shared by `polyglot score` and `polyglot bench`.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/score/score.hpp>
#include <string>
#include <string_view>
#include <vector>

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

/// What the report's metadata says besides the run's own counters.
struct report_info {
    std::vector<std::string> inputs;  ///< as scored (after expanding directories and globs)
    std::string teacher;              ///< --teacher ("" = null)
    std::string lang;                 ///< --lang ("" = the most common record language)
    std::string tool_version;         ///< of the polyglot that scored the records
    std::size_t threads = 0;
    std::string shard;  ///< "K/N" for one shard's own report ("" = the whole input)
    /// Who computed the model values: backend_identity::json() objects (see add_backends).
    std::vector<std::string> backends;
    /// "true" / "false": whether special tokens written in the records were read as control
    /// tokens by the models (--parse-special); "" when no model read the texts.
    std::string parse_special;
};

/// Adds the identities in @p more to @p into, keeping it sorted with each object once (shards
/// and resumed runs may have run on other devices).
inline void add_backends(std::vector<std::string>& into, const std::vector<std::string>& more) {
    into.insert(into.end(), more.begin(), more.end());
    std::sort(into.begin(), into.end());
    into.erase(std::unique(into.begin(), into.end()), into.end());
}

/// The report JSON (pretty-printed, with a final newline) of a finished run: metadata, then
/// one section per metric. `polyglot score` and `polyglot merge` both write it, so a merged
/// report has exactly the layout of a single run's.
inline std::string render_report(const report_info& info, const score::metric_bundle& bundle,
                                 const score::run_result& res) {
    io::json_writer w(2);
    w.begin_object();
    w.key("metadata").begin_object();
    w.key("input").begin_array();
    for (const auto& in : info.inputs) w.value(in);
    w.end_array();
    if (!info.shard.empty()) w.kv("shard", info.shard);
    w.kv("num_samples", res.num_samples);
    w.kv("num_records_read", res.num_records_read);
    w.kv_object("skipped", res.skipped);
    w.kv("blank_lines", res.blank_lines);  // not records, not skipped
    w.kv_object("failed", res.failed);
    auto str_or_null = [&](std::string_view k, const std::string& v) {
        w.key(k);
        if (v.empty())
            w.value(nullptr);
        else
            w.value(v);
    };
    str_or_null("teacher", info.teacher);
    str_or_null("target_lang", info.lang.empty() ? res.target_lang() : info.lang);
    w.key("metrics").begin_array();
    for (const auto& m : bundle.metrics) w.value(m->name());
    w.end_array();
    str_or_null("tokenizer", bundle.tokenizer);
    str_or_null("lid_model", bundle.lid_model);
    str_or_null("embedding_model", bundle.embedding_model);
    str_or_null("base_model", bundle.base_model);
    str_or_null("judge_model", bundle.judge_model);
    if (!info.parse_special.empty()) w.kv("parse_special", info.parse_special == "true");
    w.key("backends").begin_array();
    for (const auto& b : info.backends) w.raw(b);
    w.end_array();
    w.kv("tool_version", info.tool_version);
    w.kv("threads", info.threads);
    w.kv("elapsed_seconds", res.elapsed_seconds);
    w.end_object();
    score::write_sections(w, bundle, res);
    w.end_object();
    std::string report = w.take();
    report += '\n';
    return report;
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
