// SPDX-License-Identifier: Apache-2.0
// polyglot correlate: Spearman ρ between teacher rankings from several PG-score files, and the
// PG_α robustness matrix of one file.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/inputs.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/report/svg.hpp>
#include <polyglot/stats/spearman.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

using analysis::fixed;

struct ranking_input {
    std::string name, file;
    std::map<std::string, double> means;  // group → mean value
};

// Mean of @p value per @p by over rows in @p langs (all when empty); NaN cells skipped.
ranking_input group_means(const std::string& name, const std::string& file, const std::string& by,
                          const std::string& value, const std::string& lang_col,
                          const std::vector<std::string>& langs) {
    auto t = analysis::read_table(file);
    const std::size_t cb = t.require_column(by);
    const std::size_t cv = t.require_column(value);
    auto cl = t.find_column(lang_col);
    if (!langs.empty() && !cl) (void)t.require_column(lang_col);
    std::map<std::pair<std::string, std::string>, std::string> seen;
    std::map<std::string, std::pair<double, std::size_t>> acc;
    std::vector<std::string> order;
    for (std::size_t i = 0; i < t.size(); ++i) {
        std::string g = t.text(i, cb);
        std::string l = cl ? t.text(i, *cl) : std::string();
        if (cl) {
            auto [it, fresh] = seen.emplace(std::make_pair(g, l), t.where(i));
            if (!fresh)
                throw format_error(t.where(i) + ": duplicate " + by + " × " + lang_col + " row ('" +
                                   g + "', '" + l + "'); first at " + it->second);
        }
        if (!langs.empty() && std::find(langs.begin(), langs.end(), l) == langs.end()) continue;
        double v = t.number_or_nan(i, cv);
        auto& a = acc[g];
        if (!std::isnan(v)) a.first += v, ++a.second;
    }
    ranking_input r{name, file, {}};
    for (const auto& [g, a] : acc)
        if (a.second) r.means[g] = a.first / static_cast<double>(a.second);
    if (r.means.empty())
        throw format_error(file + ": no finite '" + value + "' in the selected languages");
    return r;
}

int run_correlate(int argc, char** argv) {
    std::vector<std::string> inputs;
    std::string by = "teacher_model", value = "pg_score", languages, lang_col = "target_lang",
                robustness, alphas_arg = "0,0.25,0.5,0.75,1", output = "-", plot;
    bool json = false, csv = false;

    po::options_description desc(
        "polyglot correlate [options] NAME=FILE NAME=FILE...\n"
        "polyglot correlate --alpha-robustness FILE [options]\n\n"
        "Spearman ρ between the teacher rankings of several PG-score files (e.g. one per "
        "student family): per file, the mean of --value per --by over --languages; every pair "
        "over the teachers both files have. p: t-approximation (scipy's default); p_exact: "
        "exact permutation p for n ≤ 10; stars from p: * p<0.05, ** p<0.01.\n"
        "With --alpha-robustness: PG_α = α·z + (1−α)·PGR per row for each α, and Spearman ρ "
        "between every pair of α over the rows (reference.md §10.2).\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("by", po::value(&by)->default_value(by), "grouping column (the ranked entities)")
        ("value", po::value(&value)->default_value(value), "column to average and rank")
        ("languages", po::value(&languages), "comma-separated languages (default: all)")
        ("lang-column", po::value(&lang_col)->default_value(lang_col), "language column")
        ("alpha-robustness", po::value(&robustness), "PG_α robustness matrix of FILE")
        ("alphas", po::value(&alphas_arg)->default_value(alphas_arg), "α values for --alpha-robustness")
        ("json", po::bool_switch(&json), "JSON output")
        ("csv", po::bool_switch(&csv), "CSV output")
        ("output,o", po::value(&output)->default_value("-"), "output file (- = stdout)")
        ("plot", po::value(&plot), "write the ρ matrix as an SVG heatmap with stars");
    // clang-format on
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&inputs), vm)) return 0;
    if (json && csv) throw argument_error("--json and --csv exclude each other");
    auto langs = analysis::split_list(languages);
    std::string out;
    report::heatmap_spec h;
    h.footnote = "* p < 0.05, ** p < 0.01 (t-approximation)";
    h.scale = report::color_scale::sequential;
    h.lower_triangle = true;
    h.colorbar_label = "Spearman ρ";

    if (!robustness.empty()) {
        if (!inputs.empty()) throw argument_error("--alpha-robustness takes no NAME=FILE inputs");
        std::vector<double> alphas;
        for (const auto& a : analysis::split_list(alphas_arg)) {
            auto v = analysis::parse_double(a);
            if (!v || *v < 0 || *v > 1)
                throw argument_error("--alphas: '" + a + "' is not a number in [0, 1]");
            alphas.push_back(*v);
        }
        if (alphas.size() < 2) throw argument_error("--alphas needs at least two values");
        auto rows = analysis::select_languages(
            analysis::pg_rows_from_table(analysis::read_table(robustness)), langs);
        std::vector<double> z, pgr;
        for (const auto& r : rows) {
            if (std::isnan(r.pgr)) throw format_error(r.where + ": column 'pgr' is missing");
            if (std::isnan(r.z_score))
                throw format_error(r.where + ": column 'z_score' is missing");
            z.push_back(r.z_score);
            pgr.push_back(r.pgr);
        }
        if (rows.size() < 3) throw argument_error(robustness + ": fewer than 3 rows selected");
        std::vector<std::vector<double>> pg(alphas.size());
        for (std::size_t a = 0; a < alphas.size(); ++a)
            for (std::size_t i = 0; i < rows.size(); ++i)
                pg[a].push_back(analysis::pg_alpha(z[i], pgr[i], alphas[a]));
        const std::size_t k = alphas.size();
        std::vector<std::vector<double>> rho(k, std::vector<double>(k)), p = rho;
        for (std::size_t a = 0; a < k; ++a)
            for (std::size_t b = 0; b < k; ++b) {
                auto s = stats::spearman(pg[a], pg[b], false);
                rho[a][b] = s.rho;
                p[a][b] = a == b ? 0.0 : s.p;
            }
        auto zp = stats::spearman(z, pgr, false);
        std::vector<std::string> labels;
        for (double a : alphas) labels.push_back("α=" + analysis::format_double(a));
        if (json) {
            io::json_writer w(2);
            w.begin_object();
            w.kv("file", robustness).kv("n", rows.size());
            w.key("alphas").begin_array();
            for (double a : alphas) w.value(a);
            w.end_array();
            for (const char* key : {"rho", "p"}) {
                const auto& m = std::string(key) == "rho" ? rho : p;
                w.key(key).begin_array();
                for (const auto& row : m) {
                    w.begin_array();
                    for (double v : row) w.value(v);
                    w.end_array();
                }
                w.end_array();
            }
            w.key("z_vs_pgr").begin_object();
            w.kv("rho", zp.rho).kv("p", zp.p);
            w.end_object();
            w.end_object();
            out = w.take() + "\n";
        } else {
            std::vector<std::string> hd{"α"};
            hd.insert(hd.end(), labels.begin(), labels.end());
            std::vector<std::vector<std::string>> rr;
            for (std::size_t a = 0; a < k; ++a) {
                rr.push_back({labels[a]});
                for (std::size_t b = 0; b < k; ++b)
                    rr.back().push_back(
                        csv ? analysis::format_double(rho[a][b])
                            : (b <= a ? fixed(rho[a][b], 2) +
                                            (a == b ? "" : stats::significance_stars(p[a][b]))
                                      : ""));
            }
            if (csv)
                out = analysis::csv_table(hd, rr);
            else
                out = "## PG_α robustness: Spearman ρ over " + std::to_string(rows.size()) +
                      " rows of " + robustness + "\n\n" + analysis::markdown_table(hd, rr) +
                      "\nPG_α = α·z + (1−α)·PGR. Spearman(z, PGR) = " + fixed(zp.rho, 3) +
                      " (p = " + analysis::pvalue(zp.p) + "). * p<0.05, ** p<0.01.\n";
        }
        h.title = "PG_α robustness (Spearman ρ between rankings)";
        h.subtitle = std::to_string(rows.size()) + " rows of " +
                     std::filesystem::path(robustness).filename().string();
        h.row_labels = h.col_labels = labels;
        h.values = rho;
        h.annotations.assign(k, std::vector<std::string>(k));
        for (std::size_t a = 0; a < k; ++a)
            for (std::size_t b = 0; b <= a; ++b)
                h.annotations[a][b] =
                    fixed(rho[a][b], 2) + (a == b ? "" : stats::significance_stars(p[a][b]));
    } else {
        if (inputs.size() < 2) throw argument_error("give at least two NAME=FILE inputs");
        std::vector<ranking_input> rk;
        for (const auto& in : inputs) {
            auto eq = in.find('=');
            std::string name = eq == std::string::npos ? std::filesystem::path(in).stem().string()
                                                       : in.substr(0, eq);
            std::string file = eq == std::string::npos ? in : in.substr(eq + 1);
            rk.push_back(group_means(name, file, by, value, lang_col, langs));
        }
        struct pair_result {
            std::size_t a, b;
            stats::spearman_result s;
        };
        std::vector<pair_result> pairs;
        std::vector<std::string> warnings;
        for (std::size_t a = 0; a < rk.size(); ++a)
            for (std::size_t b = a + 1; b < rk.size(); ++b) {
                std::vector<double> x, y;
                std::string only;
                for (const auto& [g, v] : rk[a].means) {
                    auto it = rk[b].means.find(g);
                    if (it == rk[b].means.end()) {
                        only += (only.empty() ? "" : ", ") + g;
                        continue;
                    }
                    x.push_back(v);
                    y.push_back(it->second);
                }
                for (const auto& [g, v] : rk[b].means)
                    if (!rk[a].means.count(g)) only += (only.empty() ? "" : ", ") + g;
                if (!only.empty())
                    warnings.push_back(rk[a].name + " vs " + rk[b].name +
                                       ": left out (not in both): " + only);
                auto s = stats::spearman(x, y);
                if (std::isnan(s.rho))
                    warnings.push_back(rk[a].name + " vs " + rk[b].name +
                                       ": ρ undefined (constant ranking or < 2 common " + by + ")");
                pairs.push_back({a, b, s});
            }
        for (const auto& w : warnings) std::fprintf(stderr, "polyglot correlate: %s\n", w.c_str());
        if (json) {
            io::json_writer w(2);
            w.begin_object();
            w.kv("by", by).kv("value", value);
            w.key("languages").begin_array();
            for (const auto& l : langs) w.value(l);
            w.end_array();
            w.key("inputs").begin_array();
            for (const auto& r : rk) {
                w.begin_object();
                w.kv("name", r.name).kv("file", r.file);
                w.kv_object("means", r.means);
                w.end_object();
            }
            w.end_array();
            w.key("pairs").begin_array();
            for (const auto& pr : pairs) {
                w.begin_object();
                w.kv("a", rk[pr.a].name).kv("b", rk[pr.b].name).kv("n", pr.s.n);
                w.kv("rho", pr.s.rho).kv("p", pr.s.p).kv("p_exact", pr.s.p_exact);
                w.kv("stars", stats::significance_stars(pr.s.p));
                w.end_object();
            }
            w.end_array();
            w.key("warnings").begin_array();
            for (const auto& s : warnings) w.value(s);
            w.end_array();
            w.end_object();
            out = w.take() + "\n";
        } else {
            std::vector<std::string> hd{"a", "b", "n", "rho", "p", "p_exact", "stars"};
            std::vector<std::vector<std::string>> rr;
            for (const auto& pr : pairs)
                rr.push_back(
                    {rk[pr.a].name, rk[pr.b].name, std::to_string(pr.s.n),
                     csv ? analysis::format_double(pr.s.rho) : fixed(pr.s.rho, 4),
                     csv ? analysis::format_double(pr.s.p) : analysis::pvalue(pr.s.p),
                     csv ? analysis::format_double(pr.s.p_exact) : analysis::pvalue(pr.s.p_exact),
                     stats::significance_stars(pr.s.p)});
            if (csv) {
                out = analysis::csv_table(hd, rr);
            } else {
                std::string note = languages.empty() ? "all languages" : languages;
                out = "## Spearman ρ between rankings (mean " + value + " per " + by + " over " +
                      note + ")\n\n" + analysis::markdown_table(hd, rr);
                // lower-triangle matrix as in the reference's heatmap
                std::vector<std::string> mh{""};
                for (const auto& r : rk) mh.push_back(r.name);
                std::vector<std::vector<std::string>> mr;
                for (std::size_t a = 0; a < rk.size(); ++a) {
                    mr.push_back({rk[a].name});
                    for (std::size_t b = 0; b < rk.size(); ++b) {
                        std::string c;
                        if (a == b) c = "1.00";
                        for (const auto& pr : pairs)
                            if (b < a && pr.a == b && pr.b == a)
                                c = fixed(pr.s.rho, 2) + stats::significance_stars(pr.s.p);
                        mr.back().push_back(c);
                    }
                }
                out += "\n" + analysis::markdown_table(mh, mr) +
                       "\np: t-approximation (scipy's default); p_exact: exact permutation "
                       "(n ≤ 10). * p<0.05, ** p<0.01.\n";
            }
        }
        h.title = "Spearman ρ between teacher rankings";
        h.subtitle = "mean " + value + " per " + by + " over " +
                     (languages.empty() ? std::string("all languages") : languages);
        for (const auto& r : rk) h.row_labels.push_back(r.name);
        h.col_labels = h.row_labels;
        const std::size_t k = rk.size();
        h.values.assign(k, std::vector<double>(k, analysis::nan_value));
        h.annotations.assign(k, std::vector<std::string>(k));
        for (std::size_t a = 0; a < k; ++a) {
            h.values[a][a] = 1.0;
            h.annotations[a][a] = "1.00";
        }
        for (const auto& pr : pairs) {
            h.values[pr.b][pr.a] = pr.s.rho;
            h.annotations[pr.b][pr.a] = fixed(pr.s.rho, 2) + stats::significance_stars(pr.s.p);
        }
    }
    write_output(output, out);
    if (!plot.empty()) {
        h.vmin = -1;
        h.vmax = 1;
        h.scale = report::color_scale::diverging;
        write_output(plot, report::heatmap_svg(h));
    }
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("correlate", "Spearman ρ between teacher rankings; PG_α robustness",
                          run_correlate);

}  // namespace polyglot::cli
