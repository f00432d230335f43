// SPDX-License-Identifier: Apache-2.0
// `polyglot correlate`: Spearman ρ between teacher rankings and the PG_α robustness matrix, and
// their markdown, CSV, JSON and heatmap forms.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <polyglot/analysis/correlate.hpp>
#include <polyglot/analysis/inputs.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <string>
#include <vector>

#include "analysis/result_json.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {
namespace {

/// ρ with two decimals and its stars, as the matrices show it.
std::string rho_cell(double rho, double p) { return fixed(rho, 2) + stats::significance_stars(p); }

/// The heatmap both matrices share: lower triangle, ρ from −1 to 1, stars explained.
report::heatmap_spec spearman_heatmap() {
    report::heatmap_spec h;
    h.footnote = "* p < 0.05, ** p < 0.01 (t-approximation)";
    h.lower_triangle = true;
    h.colorbar_label = "Spearman ρ";
    h.vmin = -1;
    h.vmax = 1;
    h.scale = report::color_scale::diverging;
    return h;
}

std::string languages_note(const ranking_options& o) {
    return o.languages.empty() ? std::string("all languages") : o.languages;
}

std::string to_json(const ranking_correlations& r) {
    io::json_writer w(2);
    w.begin_object();
    w.kv("by", r.options.by).kv("value", r.options.value);
    w.key("languages").begin_array();
    for (const auto& l : split_list(r.options.languages)) w.value(l);
    w.end_array();
    w.key("inputs").begin_array();
    for (const auto& in : r.inputs) {
        w.begin_object();
        w.kv("name", in.name).kv("file", in.file);
        w.kv_object("means", in.means);
        w.end_object();
    }
    w.end_array();
    w.key("pairs").begin_array();
    for (const auto& pr : r.pairs) {
        w.begin_object();
        w.kv("a", r.inputs[pr.a].name).kv("b", r.inputs[pr.b].name).kv("n", pr.s.n);
        w.kv("rho", pr.s.rho).kv("p", pr.s.p).kv("p_exact", pr.s.p_exact);
        w.kv("stars", stats::significance_stars(pr.s.p));
        w.end_object();
    }
    w.end_array();
    return detail::finish_document(w, r.warnings);
}

std::string to_json(const alpha_robustness& r) {
    io::json_writer w(2);
    w.begin_object();
    w.kv("file", r.file).kv("n", r.n);
    w.key("alphas").begin_array();
    for (double a : r.alphas) w.value(a);
    w.end_array();
    for (const auto* m : {&r.rho, &r.p}) {
        w.key(m == &r.rho ? "rho" : "p").begin_array();
        for (const auto& row : *m) {
            w.begin_array();
            for (double v : row) w.value(v);
            w.end_array();
        }
        w.end_array();
    }
    w.key("z_vs_pgr").begin_object();
    w.kv("rho", r.z_vs_pgr.rho).kv("p", r.z_vs_pgr.p);
    w.end_object();
    w.end_object();
    return w.take() + "\n";
}

std::vector<std::string> alpha_labels(const alpha_robustness& r) {
    std::vector<std::string> labels;
    for (double a : r.alphas) labels.push_back("α=" + format_double(a));
    return labels;
}

}  // namespace

ranking_input group_means(const std::string& name, const std::string& file,
                          const ranking_options& o) {
    const auto langs = split_list(o.languages);
    auto t = read_table(file);
    const std::size_t cb = t.require_column(o.by);
    const std::size_t cv = t.require_column(o.value);
    auto cl = t.find_column(o.lang_column);
    if (!langs.empty() && !cl) (void)t.require_column(o.lang_column);
    std::map<std::pair<std::string, std::string>, std::string> seen;
    std::map<std::string, std::pair<double, std::size_t>> acc;
    for (std::size_t i = 0; i < t.size(); ++i) {
        std::string g = t.text(i, cb);
        std::string l = cl ? t.text(i, *cl) : std::string();
        if (cl) {
            auto [it, fresh] = seen.emplace(std::make_pair(g, l), t.where(i));
            if (!fresh)
                throw format_error(t.where(i) + ": duplicate " + o.by + " × " + o.lang_column +
                                   " row ('" + g + "', '" + l + "'); first at " + it->second);
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
        throw format_error(file + ": no finite '" + o.value + "' in the selected languages");
    return r;
}

ranking_correlations correlate_rankings(
    const std::vector<std::pair<std::string, std::string>>& files, const ranking_options& o) {
    ranking_correlations res;
    res.options = o;
    for (const auto& [name, file] : files) res.inputs.push_back(group_means(name, file, o));
    const auto& rk = res.inputs;
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
                res.warnings.push_back(rk[a].name + " vs " + rk[b].name +
                                       ": left out (not in both): " + only);
            auto s = stats::spearman(x, y);
            if (std::isnan(s.rho))
                res.warnings.push_back(rk[a].name + " vs " + rk[b].name +
                                       ": ρ undefined (constant ranking or < 2 common " + o.by +
                                       ")");
            res.pairs.push_back({a, b, s});
        }
    return res;
}

std::string render(const ranking_correlations& r, text_format f) {
    if (f == text_format::json) return to_json(r);
    const bool csv = f == text_format::csv;
    const auto& rk = r.inputs;
    std::vector<std::string> hd{"a", "b", "n", "rho", "p", "p_exact", "stars"};
    std::vector<std::vector<std::string>> rr;
    for (const auto& pr : r.pairs)
        rr.push_back({rk[pr.a].name, rk[pr.b].name, std::to_string(pr.s.n),
                      csv ? format_double(pr.s.rho) : fixed(pr.s.rho, 4),
                      csv ? format_double(pr.s.p) : pvalue(pr.s.p),
                      csv ? format_double(pr.s.p_exact) : pvalue(pr.s.p_exact),
                      stats::significance_stars(pr.s.p)});
    if (csv) return csv_table(hd, rr);
    std::string out = "## Spearman ρ between rankings (mean " + r.options.value + " per " +
                      r.options.by + " over " + languages_note(r.options) + ")\n\n" +
                      markdown_table(hd, rr);
    // lower-triangle matrix as in the reference's heatmap
    std::vector<std::string> mh{""};
    for (const auto& in : rk) mh.push_back(in.name);
    std::vector<std::vector<std::string>> mr;
    for (std::size_t a = 0; a < rk.size(); ++a) {
        mr.push_back({rk[a].name});
        for (std::size_t b = 0; b < rk.size(); ++b) {
            std::string c;
            if (a == b) c = "1.00";
            for (const auto& pr : r.pairs)
                if (b < a && pr.a == b && pr.b == a) c = rho_cell(pr.s.rho, pr.s.p);
            mr.back().push_back(c);
        }
    }
    return out + "\n" + markdown_table(mh, mr) +
           "\np: t-approximation (scipy's default); p_exact: exact permutation "
           "(n ≤ 10). * p<0.05, ** p<0.01.\n";
}

report::heatmap_spec heatmap(const ranking_correlations& r) {
    auto h = spearman_heatmap();
    h.title = "Spearman ρ between teacher rankings";
    h.subtitle =
        "mean " + r.options.value + " per " + r.options.by + " over " + languages_note(r.options);
    for (const auto& in : r.inputs) h.row_labels.push_back(in.name);
    h.col_labels = h.row_labels;
    const std::size_t k = r.inputs.size();
    h.values.assign(k, std::vector<double>(k, nan_value));
    h.annotations.assign(k, std::vector<std::string>(k));
    for (std::size_t a = 0; a < k; ++a) {
        h.values[a][a] = 1.0;
        h.annotations[a][a] = "1.00";
    }
    for (const auto& pr : r.pairs) {
        h.values[pr.b][pr.a] = pr.s.rho;
        h.annotations[pr.b][pr.a] = rho_cell(pr.s.rho, pr.s.p);
    }
    return h;
}

alpha_robustness pg_alpha_robustness(const std::string& file, const std::vector<double>& alphas,
                                     const std::vector<std::string>& languages) {
    auto rows = select_languages(pg_rows_from_table(read_table(file)), languages);
    std::vector<double> z, pgr;
    for (const auto& r : rows) {
        if (std::isnan(r.pgr)) throw format_error(r.where + ": column 'pgr' is missing");
        if (std::isnan(r.z_score)) throw format_error(r.where + ": column 'z_score' is missing");
        z.push_back(r.z_score);
        pgr.push_back(r.pgr);
    }
    if (rows.size() < 3) throw argument_error(file + ": fewer than 3 rows selected");
    alpha_robustness res;
    res.file = file;
    res.n = rows.size();
    res.alphas = alphas;
    std::vector<std::vector<double>> pg(alphas.size());
    for (std::size_t a = 0; a < alphas.size(); ++a)
        for (std::size_t i = 0; i < rows.size(); ++i)
            pg[a].push_back(pg_alpha(z[i], pgr[i], alphas[a]));
    const std::size_t k = alphas.size();
    res.rho.assign(k, std::vector<double>(k));
    res.p = res.rho;
    for (std::size_t a = 0; a < k; ++a)
        for (std::size_t b = 0; b < k; ++b) {
            auto s = stats::spearman(pg[a], pg[b], false);
            res.rho[a][b] = s.rho;
            res.p[a][b] = a == b ? 0.0 : s.p;
        }
    res.z_vs_pgr = stats::spearman(z, pgr, false);
    return res;
}

std::string render(const alpha_robustness& r, text_format f) {
    if (f == text_format::json) return to_json(r);
    const bool csv = f == text_format::csv;
    const auto labels = alpha_labels(r);
    const std::size_t k = r.alphas.size();
    std::vector<std::string> hd{"α"};
    hd.insert(hd.end(), labels.begin(), labels.end());
    std::vector<std::vector<std::string>> rr;
    for (std::size_t a = 0; a < k; ++a) {
        rr.push_back({labels[a]});
        for (std::size_t b = 0; b < k; ++b)
            rr.back().push_back(
                csv ? format_double(r.rho[a][b])
                    : (b <= a ? fixed(r.rho[a][b], 2) +
                                    (a == b ? "" : stats::significance_stars(r.p[a][b]))
                              : ""));
    }
    if (csv) return csv_table(hd, rr);
    return "## PG_α robustness: Spearman ρ over " + std::to_string(r.n) + " rows of " + r.file +
           "\n\n" + markdown_table(hd, rr) +
           "\nPG_α = α·z + (1−α)·PGR. Spearman(z, PGR) = " + fixed(r.z_vs_pgr.rho, 3) +
           " (p = " + pvalue(r.z_vs_pgr.p) + "). * p<0.05, ** p<0.01.\n";
}

report::heatmap_spec heatmap(const alpha_robustness& r) {
    auto h = spearman_heatmap();
    const std::size_t k = r.alphas.size();
    h.title = "PG_α robustness (Spearman ρ between rankings)";
    h.subtitle =
        std::to_string(r.n) + " rows of " + std::filesystem::path(r.file).filename().string();
    h.row_labels = h.col_labels = alpha_labels(r);
    h.values = r.rho;
    h.annotations.assign(k, std::vector<std::string>(k));
    for (std::size_t a = 0; a < k; ++a)
        for (std::size_t b = 0; b <= a; ++b)
            h.annotations[a][b] =
                fixed(r.rho[a][b], 2) + (a == b ? "" : stats::significance_stars(r.p[a][b]));
    return h;
}

}  // namespace analysis
POLYGLOT_END_NAMESPACE
