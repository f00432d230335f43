// SPDX-License-Identifier: Apache-2.0
// `polyglot pca`: rows from tables and reports, the PCA and the regressions on the components,
// and their markdown, CSV, JSON and SVG-plot forms.
#include <cctype>
#include <cmath>
#include <filesystem>
#include <polyglot/analysis/inputs.hpp>
#include <polyglot/analysis/pca.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <string>
#include <vector>

#include "analysis/result_json.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {
namespace {

std::string lower_ext(const std::string& p) {
    std::string e = std::filesystem::path(p).extension().string();
    for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return e;
}

// Appends the rows of @p more to @p t (columns by name).
void append(table& t, const table& more) {
    if (t.columns.empty() && t.rows.empty()) {
        t = more;
        if (t.row_sources.empty())
            for (std::size_t i = 0; i < t.size(); ++i) t.row_sources.push_back(t.where(i));
        return;
    }
    for (const auto& c : more.columns) t.add_column(c);
    for (std::size_t i = 0; i < more.size(); ++i) {
        std::vector<cell> row(t.columns.size());
        for (std::size_t j = 0; j < more.columns.size(); ++j)
            row[*t.find_column(more.columns[j])] = more.rows[i][j];
        t.rows.push_back(std::move(row));
        t.lines.push_back(0);
        t.row_sources.push_back(more.where(i));
    }
    t.source = "inputs";
}

// Every input row: tables as they are, intrinsic reports as one table (teacher × language).
table gather_rows(const pca_options& o) {
    table t;
    std::vector<intrinsic_report> reports;
    for (const auto& in : o.inputs) {
        if (lower_ext(in) != ".json") {
            append(t, read_table(in));
            continue;
        }
        auto root = read_json_file(in);
        if (!looks_like_intrinsic_report(root)) {
            append(t, table_from_json(root, in));
            continue;
        }
        std::string teacher, lang;
        if (auto it = o.named.find(in); it != o.named.end()) std::tie(teacher, lang) = it->second;
        reports.push_back(intrinsic_report_from_json(root, in, teacher, lang));
    }
    if (reports.empty()) return t;
    for (std::size_t i = 0; i < reports.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (reports[i].teacher == reports[j].teacher && reports[i].lang == reports[j].lang)
                throw format_error(reports[i].source + ": duplicate teacher × language ('" +
                                   reports[i].teacher + "', '" + reports[i].lang + "'); also " +
                                   reports[j].source);
    append(t, reports_to_table(reports));
    return t;
}

void check_duplicates(const pca_analysis& a) {
    if (!a.teacher_col || !a.lang_col) return;
    const auto& t = a.rows;
    std::map<std::string, std::string> seen;
    for (std::size_t i = 0; i < t.size(); ++i) {
        auto [it, fresh] = seen.emplace(a.label(i), t.where(i));
        if (!fresh)
            throw format_error(t.where(i) + ": duplicate " + a.teacher_column + " × " +
                               a.lang_column + " row ('" + t.text(i, *a.teacher_col) + "', '" +
                               t.text(i, *a.lang_col) + "'); first at " + it->second);
    }
}

// The target per row (NaN where the join has no match: has_y false).
void read_target(const pca_analysis& a, const pca_options& o, std::vector<double>& ycol,
                 std::vector<bool>& has_y) {
    const auto& t = a.rows;
    ycol.assign(t.size(), nan_value);
    has_y.assign(t.size(), o.target.empty());
    if (o.target.empty()) return;
    if (o.join.empty()) {
        auto cy = t.require_column(o.target);
        for (std::size_t i = 0; i < t.size(); ++i) {
            ycol[i] = t.number_or_nan(i, cy);
            has_y[i] = true;
        }
        return;
    }
    if (!a.teacher_col || !a.lang_col)
        throw format_error(t.source + ": --join needs columns '" + o.teacher_column + "' and '" +
                           o.lang_column + "'");
    auto jt = read_table(o.join);
    auto jct = jt.require_column(o.teacher_column), jcl = jt.require_column(o.lang_column),
         jy = jt.require_column(o.target);
    std::map<std::string, std::pair<double, std::string>> by;
    for (std::size_t i = 0; i < jt.size(); ++i) {
        std::string key = jt.text(i, jct) + "|" + jt.text(i, jcl);
        if (by.count(key))
            throw format_error(jt.where(i) + ": duplicate " + o.teacher_column + " × " +
                               o.lang_column + " row; first at " + by[key].second);
        by[key] = {jt.number_or_nan(i, jy), jt.where(i)};
    }
    for (std::size_t i = 0; i < t.size(); ++i)
        if (auto it = by.find(a.label(i)); it != by.end()) {
            ycol[i] = it->second.first;
            has_y[i] = true;
        }
}

// The rows with every feature (and the target) finite; the others fail or, with dropna, are
// dropped with a warning.
void select_rows(pca_analysis& a, const pca_options& o, const std::vector<std::size_t>& fcols,
                 const std::vector<double>& ycol, const std::vector<bool>& has_y) {
    const auto& t = a.rows;
    std::size_t unmatched = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (!has_y[i]) {
            ++unmatched;
            continue;
        }
        std::string missing;
        for (std::size_t j = 0; j < a.features.size(); ++j) {
            double v = t.number_or_nan(i, fcols[j]);  // throws on non-numeric text
            if (!std::isfinite(v)) missing = a.features[j];
        }
        if (!o.target.empty() && !std::isfinite(ycol[i])) missing = o.target;
        if (!missing.empty()) {
            if (!o.dropna)
                throw format_error(t.where(i) + ": column '" + missing +
                                   "' is missing or not finite (use --dropna to drop such rows)");
            a.warnings.push_back(t.where(i) + ": dropped (no finite '" + missing + "')");
            continue;
        }
        a.used.push_back(i);
        a.y.push_back(ycol[i]);
    }
    if (unmatched)
        a.warnings.push_back(std::to_string(unmatched) + " row(s) have no match in " + o.join +
                             " (inner join)");
}

void fit(pca_analysis& a, const pca_options& o, const std::vector<std::size_t>& fcols) {
    const auto n = static_cast<Eigen::Index>(a.used.size());
    if (n < 3) throw argument_error("pca: fewer than 3 usable rows");
    Eigen::MatrixXd x(n, static_cast<Eigen::Index>(a.features.size()));
    Eigen::VectorXd y(n);
    for (Eigen::Index i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < a.features.size(); ++j)
            x(i, static_cast<Eigen::Index>(j)) =
                a.rows.number(a.used[static_cast<std::size_t>(i)], fcols[j]);
        y[i] = o.target.empty() ? 0.0 : a.y[static_cast<std::size_t>(i)];
    }
    stats::pca_regression_options po;
    po.models = o.target.empty() ? std::vector<std::string>{} : o.models;
    po.ridge_alpha = o.ridge_alpha;
    po.lasso_alpha = o.lasso_alpha;
    po.n_components = o.n_components;
    po.leave_one_out = o.leave_one_out;
    a.fit = stats::pca_regression(x, y, po, a.features);
    const auto& r = a.fit;
    for (std::size_t j = 0; j < a.features.size(); ++j)
        if (r.scaling.constant[j])
            a.warnings.push_back("feature '" + a.features[j] +
                                 "' is constant: standardized to 0 for every row (as sklearn's "
                                 "StandardScaler), so it loads on no informative component");
    if (r.pca.rank < r.pca.components.rows())
        a.warnings.push_back("the standardized features have rank " + std::to_string(r.pca.rank) +
                             " < " + std::to_string(r.pca.components.rows()) +
                             ": components past the rank have zero variance and are left out of "
                             "the regressions");
    for (const auto& m : r.models)
        if (!m.model.converged)
            a.warnings.push_back("lasso did not converge in " + std::to_string(m.model.n_iter) +
                                 " passes (duality gap " + format_double(m.model.dual_gap) + ")");
}

// The reference's intrinsic z-score over the used rows (every numeric cell as a feature).
void add_zscores(pca_analysis& a) {
    const auto& t = a.rows;
    std::vector<intrinsic_report> rr;
    for (auto i : a.used) {
        intrinsic_report ir;
        ir.teacher = a.teacher_col ? t.text(i, *a.teacher_col) : std::to_string(i + 1);
        ir.lang = a.lang_col ? t.text(i, *a.lang_col) : "";
        ir.source = t.where(i);
        for (std::size_t c = 0; c < t.columns.size(); ++c) {
            if (t.is_missing(i, c)) continue;
            if (auto d = std::get_if<double>(&t.rows[i][c]))
                ir.values.emplace_back(t.columns[c], *d);
            else if (auto s = std::get_if<std::string>(&t.rows[i][c]))
                if (auto v = parse_double(*s)) ir.values.emplace_back(t.columns[c], *v);
        }
        rr.push_back(std::move(ir));
    }
    auto zr = compute_zscores(rr);
    a.warnings.insert(a.warnings.end(), zr.warnings.begin(), zr.warnings.end());
    std::vector<std::string> keys;
    std::map<std::string, double> z;  // a repeated key shows its last value
    for (std::size_t k = 0; k < rr.size(); ++k) {
        keys.push_back(rr[k].teacher + "|" + rr[k].lang);
        z[keys.back()] = zr.z[k];
    }
    for (const auto& key : keys) a.z_scores.emplace_back(key, z[key]);
}

void write_vector(io::json_writer& w, const Eigen::VectorXd& v) {
    w.begin_array();
    for (Eigen::Index i = 0; i < v.size(); ++i) w.value(v[i]);
    w.end_array();
}

// The rows used, with the target and every model's predictions.
void write_rows(io::json_writer& w, const pca_analysis& a) {
    w.key("rows").begin_array();
    for (std::size_t i = 0; i < a.used.size(); ++i) {
        const auto ri = a.used[i];
        const auto e = static_cast<Eigen::Index>(i);
        w.begin_object();
        if (a.teacher_col) w.kv(a.teacher_column, a.rows.text(ri, *a.teacher_col));
        if (a.lang_col) w.kv(a.lang_column, a.rows.text(ri, *a.lang_col));
        w.kv("target", a.y[i]);
        for (const auto& m : a.fit.models) {
            w.kv(m.name, m.fitted[e]);
            if (a.leave_one_out) w.kv(m.name + "_loo", m.loo_predictions[e]);
        }
        w.end_object();
    }
    w.end_array();
}

void write_models(io::json_writer& w, const pca_analysis& a) {
    w.key("models").begin_object();
    for (const auto& m : a.fit.models) {
        w.key(m.name).begin_object();
        w.kv("r2", m.r2).kv("rmse", m.rmse).kv("loo_r2", m.loo_r2).kv("loo_rmse", m.loo_rmse);
        w.key("coefficients");
        write_vector(w, m.model.coef);
        w.kv("intercept", m.model.intercept);
        if (m.name == "lasso") w.kv("n_iter", m.model.n_iter).kv("converged", m.model.converged);
        w.end_object();
    }
    w.end_object();
}

std::string to_json(const pca_analysis& a) {
    const auto& r = a.fit;
    const bool target = !a.target.empty();
    const auto* best = a.best();
    io::json_writer w(2);
    w.begin_object();
    // pca_results.json keys
    if (target) w.kv("best_model", r.best_model);
    w.kv("n_components", r.n_components);
    if (best) w.kv("r2_score", best->r2);
    w.key("explained_variance_ratio");
    write_vector(w, r.pca.explained_variance_ratio);
    w.key("cumulative_variance");
    write_vector(w, stats::cumulative(r.pca.explained_variance_ratio));
    w.key("feature_names").begin_array();
    for (const auto& f : a.features) w.value(f);
    w.end_array();
    w.key("pca_components").begin_array();
    for (Eigen::Index c = 0; c < r.pca.components.rows(); ++c)
        write_vector(w, r.pca.components.row(c).transpose());
    w.end_array();
    if (best) {
        w.key("coefficients");
        write_vector(w, best->model.coef);
        w.kv("intercept", best->model.intercept);
    }
    // additions
    w.kv("n_samples", static_cast<Eigen::Index>(a.used.size())).kv("rank", r.pca.rank);
    if (target) w.kv("target", a.target);
    w.key("explained_variance");
    write_vector(w, r.pca.explained_variance);
    w.key("singular_values");
    write_vector(w, r.pca.singular_values);
    w.key("scaler").begin_object();
    w.key("mean");
    write_vector(w, r.scaling.mean);
    w.key("scale");
    write_vector(w, r.scaling.scale);
    w.end_object();
    w.kv("sign_convention", "largest |loading| of each component is positive");
    if (target) {
        w.kv("best_model_loo", r.best_model_loo);
        write_models(w, a);
        write_rows(w, a);
    }
    if (a.zscore) {
        w.key("z_score").begin_object();
        for (const auto& [key, z] : a.z_scores) w.kv(key, z);
        w.end_object();
    }
    return detail::finish_document(w, a.warnings);
}

std::string regressions_markdown(const pca_analysis& a) {
    const auto& r = a.fit;
    std::vector<std::string> mh{"model", "R² (in-sample)", "RMSE (in-sample)", "R² (LOO)",
                                "RMSE (LOO)"};
    std::vector<std::vector<std::string>> mr;
    for (const auto& m : r.models)
        mr.push_back({m.name, fixed(m.r2), fixed(m.rmse), fixed(m.loo_r2), fixed(m.loo_rmse)});
    return "\n## Regressions of " + a.target + " on " + std::to_string(r.n_components) +
           " component(s)\n\n" + markdown_table(mh, mr) +
           "\nBest by in-sample R² (the reference's choice): " + r.best_model +
           (a.leave_one_out ? "; best by leave-one-out R²: " + r.best_model_loo : "") + ".\n";
}

std::string zscores_markdown(const pca_analysis& a) {
    std::vector<std::vector<std::string>> zr;
    for (const auto& [key, z] : a.z_scores) {
        auto bar = key.find('|');
        zr.push_back({key.substr(0, bar), key.substr(bar + 1), fixed(z)});
    }
    return "\n## Intrinsic z-score (reference definition, pooled over these rows)\n\n" +
           markdown_table({a.teacher_column, a.lang_column, "z_score"}, zr);
}

}  // namespace

const std::vector<std::string>& pca_paper_features() {
    static const std::vector<std::string> f{"prompts_distinct_ri",    "responses_distinct_ri",
                                            "average_perplexity",     "average_rubric_score",
                                            "prompts_average_length", "responses_average_length"};
    return f;
}

const stats::model_fit* pca_analysis::best() const {
    const stats::model_fit* b = nullptr;
    for (const auto& m : fit.models)
        if (m.name == fit.best_model) b = &m;
    return b;
}

std::string pca_analysis::label(std::size_t i) const {
    return (teacher_col ? rows.text(i, *teacher_col) : std::to_string(i + 1)) + "|" +
           (lang_col ? rows.text(i, *lang_col) : "");
}

pca_analysis analyze_pca(const pca_options& o) {
    pca_analysis a;
    a.target = o.target;
    a.teacher_column = o.teacher_column;
    a.lang_column = o.lang_column;
    a.leave_one_out = o.leave_one_out;
    a.zscore = o.zscore;
    a.rows = gather_rows(o);
    a.teacher_col = a.rows.find_column(o.teacher_column);
    a.lang_col = a.rows.find_column(o.lang_column);
    check_duplicates(a);
    a.features = o.features ? *o.features : pca_paper_features();
    if (a.features.empty()) throw argument_error("--features is empty");
    std::vector<std::size_t> fcols;
    for (const auto& f : a.features) fcols.push_back(a.rows.require_column(f));
    std::vector<double> ycol;
    std::vector<bool> has_y;
    read_target(a, o, ycol, has_y);
    select_rows(a, o, fcols, ycol, has_y);
    fit(a, o, fcols);
    if (o.zscore) add_zscores(a);
    return a;
}

std::string render(const pca_analysis& a, text_format f) {
    if (f == text_format::json) return to_json(a);
    const bool csv = f == text_format::csv;
    const auto& r = a.fit;
    const auto cum = stats::cumulative(r.pca.explained_variance_ratio);
    std::vector<std::string> lh{"component", "explained_variance_ratio", "cumulative"};
    lh.insert(lh.end(), a.features.begin(), a.features.end());
    std::vector<std::vector<std::string>> lr;
    for (Eigen::Index c = 0; c < r.pca.components.rows(); ++c) {
        lr.push_back({"PC" + std::to_string(c + 1),
                      csv ? format_double(r.pca.explained_variance_ratio[c])
                          : fixed(r.pca.explained_variance_ratio[c], 4),
                      csv ? format_double(cum[c]) : fixed(cum[c], 4)});
        for (Eigen::Index j = 0; j < r.pca.components.cols(); ++j)
            lr.back().push_back(csv ? format_double(r.pca.components(c, j))
                                    : fixed(r.pca.components(c, j), 3));
    }
    if (csv) return csv_table(lh, lr);
    std::string out = "## PCA over " + std::to_string(a.used.size()) + " rows × " +
                      std::to_string(a.features.size()) +
                      " standardized features (loadings; largest |loading| per component is "
                      "positive)\n\n" +
                      markdown_table(lh, lr);
    if (!a.target.empty()) out += regressions_markdown(a);
    if (a.zscore) out += zscores_markdown(a);
    return out;
}

report::heatmap_spec loadings_heatmap(const pca_analysis& a) {
    const auto& r = a.fit;
    const Eigen::Index k = r.pca.components.rows();
    report::heatmap_spec h;
    h.title = "PCA loadings";
    h.subtitle =
        std::to_string(a.used.size()) + " rows; sign: largest |loading| of each PC positive";
    for (Eigen::Index c = 0; c < k; ++c)
        h.row_labels.push_back("PC" + std::to_string(c + 1) + " (" +
                               fixed(100 * r.pca.explained_variance_ratio[c], 1) + "%)");
    h.col_labels = a.features;
    for (Eigen::Index c = 0; c < k; ++c) {
        std::vector<double> row;
        for (Eigen::Index j = 0; j < r.pca.components.cols(); ++j)
            row.push_back(r.pca.components(c, j));
        h.values.push_back(row);
    }
    h.vmin = -1;
    h.vmax = 1;
    h.colorbar_label = "loading";
    return h;
}

report::scatter_spec fit_scatter(const pca_analysis& a) {
    const auto* best = a.best();
    if (!best) throw argument_error("pca: no fitted model to plot (give a target)");
    report::scatter_spec s;
    s.title = "Predicted vs actual " + a.target + " (" + best->name + " on " +
              std::to_string(a.fit.n_components) + " PCs)";
    s.subtitle = "in-sample R² = " + fixed(best->r2, 3) + ", RMSE = " + fixed(best->rmse, 3) +
                 (a.leave_one_out ? "; leave-one-out R² = " + fixed(best->loo_r2, 3) +
                                        ", RMSE = " + fixed(best->loo_rmse, 3)
                                  : "");
    s.x_label = "actual " + a.target;
    s.y_label = "predicted " + a.target + " (in-sample)";
    s.identity_line = true;
    for (std::size_t i = 0; i < a.used.size(); ++i) {
        const auto ri = a.used[i];
        s.x.push_back(a.y[i]);
        s.y.push_back(best->fitted[static_cast<Eigen::Index>(i)]);
        s.group.push_back(a.lang_col ? a.rows.text(ri, *a.lang_col) : "all");
        s.point_labels.push_back(a.label(ri));
    }
    return s;
}

}  // namespace analysis
POLYGLOT_END_NAMESPACE
