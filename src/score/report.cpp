// SPDX-License-Identifier: Apache-2.0
// The score report JSON (metadata and metric sections), shared by score, merge and bench.
#include <algorithm>
#include <charconv>
#include <limits>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/score/report.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

double find_number(std::string_view json, std::string_view key) {
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

void add_backends(std::vector<std::string>& into, const std::vector<std::string>& more) {
    into.insert(into.end(), more.begin(), more.end());
    std::sort(into.begin(), into.end());
    into.erase(std::unique(into.begin(), into.end()), into.end());
}

std::string render_report(const report_info& info, const metric_bundle& bundle,
                          const run_result& res) {
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
    write_sections(w, bundle, res);
    w.end_object();
    std::string report = w.take();
    report += '\n';
    return report;
}

std::string section_json(const metric_bundle& b, const run_result& r, std::size_t k) {
    io::json_writer w;
    w.begin_object();
    b.metrics[k]->finalize(*r.states[k], w);
    w.end_object();
    return w.take();
}

void write_sections(io::json_writer& w, const metric_bundle& bundle, const run_result& res) {
    for (std::size_t k = 0; k < bundle.metrics.size(); ++k) {
        w.key(bundle.metrics[k]->name());
        w.begin_object();
        bundle.metrics[k]->finalize(*res.states[k], w);
        w.end_object();
    }
}

}  // namespace score
POLYGLOT_END_NAMESPACE
