// SPDX-License-Identifier: Apache-2.0
// polyglot compare REPORT...: intrinsic-metric reports side by side (one row per report, i.e.
// teacher × language), with the intrinsic z-score and a ranking, as a table, CSV, JSON or an
// SVG heatmap.
#include <boost/program_options.hpp>
#include <cmath>
#include <cstring>
#include <numeric>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/report/svg.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

struct column {
    std::string label;
    std::string key;  ///< dotted path or leaf name in the report
    int decimals = 3;
};

/// The columns shown by default (when some report has them), in this order.
const std::vector<column>& default_columns() {
    static const std::vector<column> c = {
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

int run_compare(int argc, char** argv) {
    std::vector<std::string> files, names;
    std::string format = "table", output = "-", svg, columns_arg, sort, pool = "global";
    bool no_z = false;
    po::options_description desc(
        "polyglot compare REPORT... [options]\n\n"
        "Shows intrinsic-metric reports side by side: one row per report (teacher × language; "
        "from the report's metadata, or --name), one column per metric that some report has. "
        "When every report has the distinct-RI and perplexity sections, the intrinsic z-score "
        "(the paper's: prompt and response distinct-RI, the rubric score when present and "
        "−log1p(perplexity), each standardised over the reports) is added and the rows are "
        "ranked by it.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("name", po::value(&names)->composing(), "TEACHER:LANG=FILE: a report with its teacher "
            "and language (repeatable)")
        ("columns", po::value(&columns_arg), "comma-separated report keys (dotted paths or leaf "
            "names) to show instead of the default columns")
        ("no-z", po::bool_switch(&no_z), "no z-score column and no ranking")
        ("pool", po::value(&pool)->default_value(pool), "z-score pool: global or per-language")
        ("sort", po::value(&sort), "sort by this column (descending; default: z when present, "
            "else input order)")
        ("format", po::value(&format)->default_value(format), "table, csv or json")
        ("output,o", po::value(&output)->default_value(output), "output path ('-' = stdout)")
        ("svg", po::value(&svg), "also write an SVG heatmap (colours: each column standardised; "
            "cells: the values)");
    // clang-format on
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&files), vm)) return 0;
    if (format != "table" && format != "csv" && format != "json")
        throw argument_error("--format must be table, csv or json");
    if (pool != "global" && pool != "per-language")
        throw argument_error("--pool must be global or per-language");
    std::vector<analysis::intrinsic_report> reports;
    for (const auto& f : files) reports.push_back(analysis::read_intrinsic_report(f));
    for (const auto& n : names) {
        auto s = parse_name_spec(n, "--name");
        reports.push_back(analysis::read_intrinsic_report(s.file, s.teacher, s.lang));
    }
    if (reports.empty()) throw argument_error("no report given (see polyglot compare --help)");

    std::vector<column> cols;
    if (!columns_arg.empty()) {
        for (const auto& k : analysis::split_list(columns_arg)) {
            bool any = false;
            for (const auto& r : reports) any = any || !std::isnan(r.get(k));
            if (!any) throw argument_error("--columns: no report has '" + k + "'");
            cols.push_back({k, k, 4});
        }
    } else {
        for (const auto& c : default_columns())
            for (const auto& r : reports)
                if (!std::isnan(r.get(c.key))) {
                    cols.push_back(c);
                    break;
                }
    }
    std::vector<std::vector<double>> vals;
    for (const auto& r : reports) {
        std::vector<double> row;
        for (const auto& c : cols) row.push_back(r.get(c.key));
        vals.push_back(std::move(row));
    }

    std::vector<std::string> warnings;
    std::vector<double> z;
    std::vector<std::string> z_features;
    if (!no_z) {
        bool all = true;
        for (const auto& r : reports)
            for (const char* k :
                 {"distinct_ri.prompts_distinct_ri", "distinct_ri.responses_distinct_ri",
                  "perplexity.average_perplexity"})
                all = all && !std::isnan(r.get(k));
        if (all && reports.size() >= 2) {
            analysis::zscore_options zo;
            zo.pool =
                pool == "global" ? analysis::pool_kind::global : analysis::pool_kind::per_language;
            auto res = analysis::compute_zscores(reports, zo);
            z = res.z;
            z_features = res.pool.features;
            for (auto& w : res.warnings) warnings.push_back(std::move(w));
        } else if (!all) {
            warnings.push_back(
                "compare: no z-score (it needs distinct_ri and perplexity in every report)");
        }
    }
    std::vector<std::size_t> order(reports.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<double> key;
    if (!sort.empty()) {
        std::size_t j = cols.size();
        for (std::size_t k = 0; k < cols.size(); ++k)
            if (cols[k].label == sort || cols[k].key == sort) j = k;
        if (sort == "z" && !z.empty())
            key = z;
        else if (j < cols.size())
            for (const auto& v : vals) key.push_back(v[j]);
        else
            throw argument_error("--sort: no column '" + sort + "'");
    } else if (!z.empty()) {
        key = z;
    }
    if (!key.empty())
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            if (std::isnan(key[a]) != std::isnan(key[b])) return std::isnan(key[b]);
            return key[a] > key[b];
        });

    std::vector<std::string> header = {"rank", "teacher", "lang"};
    for (const auto& c : cols) header.push_back(c.label);
    if (!z.empty()) header.push_back("z");
    std::vector<std::vector<std::string>> rows;
    for (std::size_t pos = 0; pos < order.size(); ++pos) {
        const std::size_t i = order[pos];
        std::vector<std::string> row = {key.empty() ? "" : std::to_string(pos + 1),
                                        reports[i].teacher, reports[i].lang};
        for (std::size_t j = 0; j < cols.size(); ++j)
            row.push_back(analysis::fixed(vals[i][j], cols[j].decimals));
        if (!z.empty()) row.push_back(analysis::fixed(z[i], 3));
        rows.push_back(std::move(row));
    }

    std::string text;
    if (format == "table") {
        text = analysis::markdown_table(header, rows);
        if (!z_features.empty()) {
            text += "\nz = mean of standardised ";
            for (std::size_t k = 0; k < z_features.size(); ++k)
                text += (k ? ", " : "") + z_features[k];
            text += " (" + pool + " pool, population SD)\n";
        }
    } else if (format == "csv") {
        text = analysis::csv_table(header, rows);
    } else {
        io::json_writer w(2);
        w.begin_object();
        w.key("columns").begin_array();
        for (const auto& c : cols)
            w.begin_object().kv("label", c.label).kv("key", c.key).end_object();
        w.end_array();
        w.key("z_features").begin_array();
        for (const auto& f : z_features) w.value(f);
        w.end_array();
        w.key("rows").begin_array();
        for (std::size_t pos = 0; pos < order.size(); ++pos) {
            const std::size_t i = order[pos];
            w.begin_object();
            if (!key.empty()) w.kv("rank", pos + 1);
            w.kv("teacher", reports[i].teacher)
                .kv("lang", reports[i].lang)
                .kv("source", reports[i].source);
            w.key("values").begin_object();
            for (std::size_t j = 0; j < cols.size(); ++j) w.kv(cols[j].label, vals[i][j]);
            w.end_object();
            if (!z.empty()) w.kv("z", z[i]);
            w.end_object();
        }
        w.end_array();
        w.key("warnings").begin_array();
        for (const auto& s : warnings) w.value(s);
        w.end_array();
        w.end_object();
        text = w.take() + "\n";
    }
    write_output(output, text);
    for (const auto& s : warnings)
        std::fprintf(stderr, "polyglot compare: warning: %s\n", s.c_str());

    if (!svg.empty()) {
        report::heatmap_spec h;
        h.title = "Intrinsic metrics by teacher × language";
        h.subtitle = key.empty() ? "in input order"
                                 : (sort.empty() ? "ranked by intrinsic z" : "sorted by " + sort);
        std::vector<std::vector<double>> grid;
        for (std::size_t i : order) {
            h.row_labels.push_back(reports[i].teacher + " · " + reports[i].lang);
            auto row = vals[i];
            if (!z.empty()) row.push_back(z[i]);
            grid.push_back(std::move(row));
        }
        for (const auto& c : cols) h.col_labels.push_back(c.label);
        if (!z.empty()) h.col_labels.push_back("z");
        h.values = standardize_columns(grid);
        for (const auto& row : grid) {
            std::vector<std::string> ann;
            for (std::size_t j = 0; j < row.size(); ++j)
                ann.push_back(analysis::fixed(row[j], j < cols.size() ? cols[j].decimals : 3));
            h.annotations.push_back(std::move(ann));
        }
        h.scale = report::color_scale::diverging;
        h.colorbar_label = "standardised within the column";
        write_output(svg, report::heatmap_svg(h));
    }
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("compare", "score reports side by side (table, CSV, JSON, SVG), ranked",
                          run_compare);

}  // namespace polyglot::cli
