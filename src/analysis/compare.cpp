// SPDX-License-Identifier: Apache-2.0
// `polyglot compare`: intrinsic-metric reports side by side, the z-score and the ranking, and
// their markdown, CSV, JSON and heatmap forms.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <polyglot/analysis/compare.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <string>
#include <vector>

#include "analysis/result_json.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {
namespace {

/// Column-wise standardisation (ddof 0) for the heatmap's colours; constant columns → 0.
std::vector<std::vector<double>> standardize_columns(const std::vector<std::vector<double>>& v) {
    if (v.empty()) return v;
    std::vector<std::vector<double>> out = v;
    for (std::size_t j = 0; j < v[0].size(); ++j) {
        double sum = 0, n = 0;
        for (const auto& r : v)
            if (!std::isnan(r[j])) {
                sum += r[j];
                ++n;
            }
        const double mean = n ? sum / n : 0;
        double ss = 0;
        for (const auto& r : v)
            if (!std::isnan(r[j])) ss += (r[j] - mean) * (r[j] - mean);
        const double sd = n ? std::sqrt(ss / n) : 0;
        for (auto& r : out)
            if (!std::isnan(r[j])) r[j] = sd > 0 ? (r[j] - mean) / sd : 0;
    }
    return out;
}

std::vector<compare_column> choose_columns(const std::vector<intrinsic_report>& reports,
                                           const std::optional<std::vector<std::string>>& keys) {
    std::vector<compare_column> cols;
    if (keys) {
        for (const auto& k : *keys) {
            bool any = false;
            for (const auto& r : reports) any = any || !std::isnan(r.get(k));
            if (!any) throw argument_error("--columns: no report has '" + k + "'");
            cols.push_back({k, k, 4});
        }
        return cols;
    }
    for (const auto& c : default_compare_columns())
        for (const auto& r : reports)
            if (!std::isnan(r.get(c.key))) {
                cols.push_back(c);
                break;
            }
    return cols;
}

/// The intrinsic z-score when every report has distinct_ri and perplexity (and there are two
/// or more of them).
void add_zscores(compare_result& res) {
    bool all = true;
    for (const auto& r : res.reports)
        for (const char* k : {"distinct_ri.prompts_distinct_ri",
                              "distinct_ri.responses_distinct_ri", "perplexity.average_perplexity"})
            all = all && !std::isnan(r.get(k));
    if (all && res.reports.size() >= 2) {
        zscore_options zo;
        zo.pool = res.pool;
        auto z = compute_zscores(res.reports, zo);
        res.z = z.z;
        res.z_features = z.pool.features;
        for (auto& w : z.warnings) res.warnings.push_back(std::move(w));
    } else if (!all) {
        res.warnings.push_back(
            "compare: no z-score (it needs distinct_ri and perplexity in every report)");
    }
}

/// The display order: by --sort, else by z (descending, NaN last), else input order.
void order_rows(compare_result& res) {
    res.order.resize(res.reports.size());
    std::iota(res.order.begin(), res.order.end(), 0);
    std::vector<double> key;
    if (!res.sort.empty()) {
        std::size_t j = res.columns.size();
        for (std::size_t k = 0; k < res.columns.size(); ++k)
            if (res.columns[k].label == res.sort || res.columns[k].key == res.sort) j = k;
        if (res.sort == "z" && !res.z.empty())
            key = res.z;
        else if (j < res.columns.size())
            for (const auto& v : res.values) key.push_back(v[j]);
        else
            throw argument_error("--sort: no column '" + res.sort + "'");
    } else if (!res.z.empty()) {
        key = res.z;
    }
    res.ranked = !key.empty();
    if (res.ranked)
        std::stable_sort(res.order.begin(), res.order.end(), [&](std::size_t a, std::size_t b) {
            if (std::isnan(key[a]) != std::isnan(key[b])) return std::isnan(key[b]);
            return key[a] > key[b];
        });
}

std::string to_json(const compare_result& r) {
    io::json_writer w(2);
    w.begin_object();
    w.key("columns").begin_array();
    for (const auto& c : r.columns)
        w.begin_object().kv("label", c.label).kv("key", c.key).end_object();
    w.end_array();
    w.key("z_features").begin_array();
    for (const auto& f : r.z_features) w.value(f);
    w.end_array();
    w.key("rows").begin_array();
    for (std::size_t pos = 0; pos < r.order.size(); ++pos) {
        const std::size_t i = r.order[pos];
        w.begin_object();
        if (r.ranked) w.kv("rank", pos + 1);
        w.kv("teacher", r.reports[i].teacher)
            .kv("lang", r.reports[i].lang)
            .kv("source", r.reports[i].source);
        w.key("values").begin_object();
        for (std::size_t j = 0; j < r.columns.size(); ++j) w.kv(r.columns[j].label, r.values[i][j]);
        w.end_object();
        if (!r.z.empty()) w.kv("z", r.z[i]);
        w.end_object();
    }
    w.end_array();
    return detail::finish_document(w, r.warnings);
}

}  // namespace

const std::vector<compare_column>& default_compare_columns() {
    static const std::vector<compare_column> c = {
        {"records", "metadata.num_samples", 0},
        {"prompt_tokens", "length.prompts_average_length", 1},
        {"response_tokens", "length.responses_average_length", 1},
        {"response_distinct_2", "lexical.responses_distinct_2", 3},
        {"in_language", "language.responses_target_lang_rate", 3},
        {"prompt_distinct_ri", "distinct_ri.prompts_distinct_ri", 4},
        {"response_distinct_ri", "distinct_ri.responses_distinct_ri", 4},
        {"perplexity", "perplexity.average_perplexity", 2},
        {"rubric", "reward_model.average_rubric_score", 3},
        {"rubric_invalid", "reward_model.num_invalid", 0},
    };
    return c;
}

compare_result compare_reports(std::vector<intrinsic_report> reports, const compare_options& o) {
    compare_result res;
    res.reports = std::move(reports);
    res.pool = o.pool;
    res.sort = o.sort;
    res.columns = choose_columns(res.reports, o.columns);
    for (const auto& r : res.reports) {
        std::vector<double> row;
        for (const auto& c : res.columns) row.push_back(r.get(c.key));
        res.values.push_back(std::move(row));
    }
    if (o.z) add_zscores(res);
    order_rows(res);
    return res;
}

std::string render(const compare_result& r, text_format f) {
    if (f == text_format::json) return to_json(r);
    std::vector<std::string> header = {"rank", "teacher", "lang"};
    for (const auto& c : r.columns) header.push_back(c.label);
    if (!r.z.empty()) header.push_back("z");
    std::vector<std::vector<std::string>> rows;
    for (std::size_t pos = 0; pos < r.order.size(); ++pos) {
        const std::size_t i = r.order[pos];
        std::vector<std::string> row = {r.ranked ? std::to_string(pos + 1) : "",
                                        r.reports[i].teacher, r.reports[i].lang};
        for (std::size_t j = 0; j < r.columns.size(); ++j)
            row.push_back(fixed(r.values[i][j], r.columns[j].decimals));
        if (!r.z.empty()) row.push_back(fixed(r.z[i], 3));
        rows.push_back(std::move(row));
    }
    if (f == text_format::csv) return csv_table(header, rows);
    std::string text = markdown_table(header, rows);
    if (!r.z_features.empty()) {
        text += "\nz = mean of standardised ";
        for (std::size_t k = 0; k < r.z_features.size(); ++k)
            text += (k ? ", " : "") + r.z_features[k];
        text += std::string(" (") + (r.pool == pool_kind::global ? "global" : "per-language") +
                " pool, population SD)\n";
    }
    return text;
}

report::heatmap_spec heatmap(const compare_result& r) {
    report::heatmap_spec h;
    h.title = "Intrinsic metrics by teacher × language";
    h.subtitle = !r.ranked ? "in input order"
                           : (r.sort.empty() ? "ranked by intrinsic z" : "sorted by " + r.sort);
    std::vector<std::vector<double>> grid;
    for (std::size_t i : r.order) {
        h.row_labels.push_back(r.reports[i].teacher + " · " + r.reports[i].lang);
        auto row = r.values[i];
        if (!r.z.empty()) row.push_back(r.z[i]);
        grid.push_back(std::move(row));
    }
    for (const auto& c : r.columns) h.col_labels.push_back(c.label);
    if (!r.z.empty()) h.col_labels.push_back("z");
    h.values = standardize_columns(grid);
    for (const auto& row : grid) {
        std::vector<std::string> ann;
        for (std::size_t j = 0; j < row.size(); ++j)
            ann.push_back(fixed(row[j], j < r.columns.size() ? r.columns[j].decimals : 3));
        h.annotations.push_back(std::move(ann));
    }
    h.scale = report::color_scale::diverging;
    h.colorbar_label = "standardised within the column";
    return h;
}

}  // namespace analysis
POLYGLOT_END_NAMESPACE
