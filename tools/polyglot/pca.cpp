// SPDX-License-Identifier: Apache-2.0
// polyglot pca: variance decomposition of intrinsic features and regressions of a target on
// the principal components (reference.md §9), with leave-one-out cross-validation.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/inputs.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/report/svg.hpp>
#include <polyglot/stats/pca_regression.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

using analysis::fixed;

const std::vector<std::string> paper_features{"prompts_distinct_ri",    "responses_distinct_ri",
                                              "average_perplexity",     "average_rubric_score",
                                              "prompts_average_length", "responses_average_length"};

std::string lower_ext(const std::string& p) {
    std::string e = std::filesystem::path(p).extension().string();
    for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return e;
}

// Appends the rows of @p more to @p t (columns by name).
void append(analysis::table& t, const analysis::table& more) {
    if (t.columns.empty() && t.rows.empty()) {
        t = more;
        if (t.row_sources.empty())
            for (std::size_t i = 0; i < t.size(); ++i) t.row_sources.push_back(t.where(i));
        return;
    }
    for (const auto& c : more.columns) t.add_column(c);
    for (std::size_t i = 0; i < more.size(); ++i) {
        std::vector<analysis::cell> row(t.columns.size());
        for (std::size_t j = 0; j < more.columns.size(); ++j)
            row[*t.find_column(more.columns[j])] = more.rows[i][j];
        t.rows.push_back(std::move(row));
        t.lines.push_back(0);
        t.row_sources.push_back(more.where(i));
    }
    t.source = "inputs";
}

int run_pca(int argc, char** argv) {
    std::vector<std::string> inputs, names;
    std::string features_arg, target, join, models_arg = "linear,ridge,lasso,quadratic",
                                            output = "-", plot, plot_fit,
                                            teacher_col = "teacher_model", lang_col = "target_lang";
    double ridge_alpha = 1.0, lasso_alpha = 0.1;
    long n_components = 0;
    bool json = false, csv = false, no_loo = false, zscore = false, dropna = false;

    po::options_description desc(
        "polyglot pca [options] TABLE.csv|TABLE.jsonl|REPORT.json...\n\n"
        "Standardize the features (ddof 0), PCA (sign convention: the largest |loading| of each "
        "component is positive), explained variance ratios and loadings; with --target, "
        "regress the target on the component scores (linear, ridge α=1, lasso α=0.1, "
        "quadratic) and report R²/RMSE in-sample (as the reference) and leave-one-out "
        "cross-validated (scaler, PCA and model refitted in every fold).\n"
        "Rows: one per teacher × language, from tables or from intrinsic reports.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("features", po::value(&features_arg),
            "comma-separated feature columns (default: the paper's six: prompts_distinct_ri, "
            "responses_distinct_ri, average_perplexity, average_rubric_score, "
            "prompts_average_length, responses_average_length)")
        ("target", po::value(&target), "column to regress on the components (e.g. result, pg_score)")
        ("join", po::value(&join),
            "table to take --target from, inner-joined on teacher_model × target_lang")
        ("name", po::value(&names)->composing(), "TEACHER:LANG=FILE: a report with its names")
        ("models", po::value(&models_arg)->default_value(models_arg), "regressions to fit")
        ("ridge-alpha", po::value(&ridge_alpha)->default_value(1.0), "ridge penalty")
        ("lasso-alpha", po::value(&lasso_alpha)->default_value(0.1), "lasso penalty")
        ("n-components", po::value(&n_components)->default_value(0),
            "components to regress on (0 = all up to the numerical rank)")
        ("no-loo", po::bool_switch(&no_loo), "skip leave-one-out cross-validation")
        ("dropna", po::bool_switch(&dropna),
            "drop rows with a missing feature/target (as the reference) instead of failing")
        ("z-score", po::bool_switch(&zscore),
            "also compute the reference's intrinsic z-score over the rows")
        ("teacher-column", po::value(&teacher_col)->default_value(teacher_col), "teacher column")
        ("lang-column", po::value(&lang_col)->default_value(lang_col), "language column")
        ("json", po::bool_switch(&json), "JSON output (pca_results.json keys + additions)")
        ("csv", po::bool_switch(&csv), "CSV output (the loadings)")
        ("output,o", po::value(&output)->default_value("-"), "output file (- = stdout)")
        ("plot", po::value(&plot), "write the loadings heatmap (SVG)")
        ("plot-fit", po::value(&plot_fit),
            "write predicted vs actual of the best model (SVG), coloured by language");
    // clang-format on
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&inputs), vm)) return 0;
    if (json && csv) throw argument_error("--json and --csv exclude each other");
    if (!join.empty() && target.empty()) throw argument_error("--join needs --target");
    if (!plot_fit.empty() && target.empty()) throw argument_error("--plot-fit needs --target");

    // ---- gather rows
    std::map<std::string, std::pair<std::string, std::string>> named;
    for (const auto& s : names) {
        auto eq = s.find('=');
        auto colon = s.substr(0, eq).rfind(':');
        if (eq == std::string::npos || colon == std::string::npos)
            throw argument_error("--name expects TEACHER:LANG=FILE, got '" + s + "'");
        named[s.substr(eq + 1)] = {s.substr(0, colon), s.substr(colon + 1, eq - colon - 1)};
        inputs.push_back(s.substr(eq + 1));
    }
    if (inputs.empty()) throw argument_error("no input tables or reports");
    analysis::table t;
    std::vector<analysis::intrinsic_report> reports;
    for (const auto& in : inputs) {
        std::string ext = lower_ext(in);
        if (ext == ".json") {
            auto root = analysis::read_json_file(in);
            if (analysis::looks_like_intrinsic_report(root)) {
                std::string teacher, lang;
                if (auto it = named.find(in); it != named.end())
                    std::tie(teacher, lang) = it->second;
                reports.push_back(analysis::intrinsic_report_from_json(root, in, teacher, lang));
                continue;
            }
            append(t, analysis::table_from_json(root, in));
        } else {
            append(t, analysis::read_table(in));
        }
    }
    if (!reports.empty()) {
        for (std::size_t i = 0; i < reports.size(); ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (reports[i].teacher == reports[j].teacher && reports[i].lang == reports[j].lang)
                    throw format_error(reports[i].source + ": duplicate teacher × language ('" +
                                       reports[i].teacher + "', '" + reports[i].lang + "'); also " +
                                       reports[j].source);
        append(t, analysis::reports_to_table(reports));
    }
    auto ct = t.find_column(teacher_col), cl = t.find_column(lang_col);
    auto label = [&](std::size_t i) {
        return (ct ? t.text(i, *ct) : std::to_string(i + 1)) + "|" + (cl ? t.text(i, *cl) : "");
    };
    if (ct && cl) {
        std::map<std::string, std::string> seen;
        for (std::size_t i = 0; i < t.size(); ++i) {
            auto [it, fresh] = seen.emplace(label(i), t.where(i));
            if (!fresh)
                throw format_error(t.where(i) + ": duplicate " + teacher_col + " × " + lang_col +
                                   " row ('" + t.text(i, *ct) + "', '" + t.text(i, *cl) +
                                   "'); first at " + it->second);
        }
    }

    // ---- target (possibly joined)
    std::vector<std::string> features =
        features_arg.empty() ? paper_features : analysis::split_list(features_arg);
    if (features.empty()) throw argument_error("--features is empty");
    std::vector<std::size_t> fcols;
    for (const auto& f : features) fcols.push_back(t.require_column(f));
    std::vector<double> ycol(t.size(), analysis::nan_value);
    std::vector<bool> has_y(t.size(), target.empty());
    if (!target.empty()) {
        if (!join.empty()) {
            if (!ct || !cl)
                throw format_error(t.source + ": --join needs columns '" + teacher_col + "' and '" +
                                   lang_col + "'");
            auto jt = analysis::read_table(join);
            auto jct = jt.require_column(teacher_col), jcl = jt.require_column(lang_col),
                 jy = jt.require_column(target);
            std::map<std::string, std::pair<double, std::string>> by;
            for (std::size_t i = 0; i < jt.size(); ++i) {
                std::string key = jt.text(i, jct) + "|" + jt.text(i, jcl);
                if (by.count(key))
                    throw format_error(jt.where(i) + ": duplicate " + teacher_col + " × " +
                                       lang_col + " row; first at " + by[key].second);
                by[key] = {jt.number_or_nan(i, jy), jt.where(i)};
            }
            for (std::size_t i = 0; i < t.size(); ++i)
                if (auto it = by.find(label(i)); it != by.end()) {
                    ycol[i] = it->second.first;
                    has_y[i] = true;
                }
        } else {
            auto cy = t.require_column(target);
            for (std::size_t i = 0; i < t.size(); ++i) {
                ycol[i] = t.number_or_nan(i, cy);
                has_y[i] = true;
            }
        }
    }
    std::vector<std::string> warnings;
    std::vector<std::size_t> used;
    std::size_t unmatched = 0;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (!has_y[i]) {
            ++unmatched;
            continue;
        }
        std::string missing;
        for (std::size_t j = 0; j < features.size(); ++j) {
            double v = t.number_or_nan(i, fcols[j]);  // throws on non-numeric text
            if (!std::isfinite(v)) missing = features[j];
        }
        if (!target.empty() && !std::isfinite(ycol[i])) missing = target;
        if (!missing.empty()) {
            if (!dropna)
                throw format_error(t.where(i) + ": column '" + missing +
                                   "' is missing or not finite (use --dropna to drop such rows)");
            warnings.push_back(t.where(i) + ": dropped (no finite '" + missing + "')");
            continue;
        }
        used.push_back(i);
    }
    if (unmatched)
        warnings.push_back(std::to_string(unmatched) + " row(s) have no match in " + join +
                           " (inner join)");
    const auto n = static_cast<Eigen::Index>(used.size());
    if (n < 3) throw argument_error("pca: fewer than 3 usable rows");
    Eigen::MatrixXd x(n, static_cast<Eigen::Index>(features.size()));
    Eigen::VectorXd y(n);
    for (Eigen::Index i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < features.size(); ++j)
            x(i, static_cast<Eigen::Index>(j)) =
                t.number(used[static_cast<std::size_t>(i)], fcols[j]);
        y[i] = ycol[used[static_cast<std::size_t>(i)]];
    }

    stats::pca_regression_options o;
    o.models = target.empty() ? std::vector<std::string>{} : analysis::split_list(models_arg);
    o.ridge_alpha = ridge_alpha;
    o.lasso_alpha = lasso_alpha;
    o.n_components = n_components;
    o.leave_one_out = !no_loo;
    if (target.empty()) y.setZero();
    auto r = stats::pca_regression(x, y, o, features);
    for (std::size_t j = 0; j < features.size(); ++j)
        if (r.scaling.constant[j])
            warnings.push_back("feature '" + features[j] +
                               "' is constant: standardized to 0 for every row (as sklearn's "
                               "StandardScaler), so it loads on no informative component");
    if (r.pca.rank < r.pca.components.rows())
        warnings.push_back("the standardized features have rank " + std::to_string(r.pca.rank) +
                           " < " + std::to_string(r.pca.components.rows()) +
                           ": components past the rank have zero variance and are left out of "
                           "the regressions");
    for (const auto& m : r.models)
        if (!m.model.converged)
            warnings.push_back("lasso did not converge in " + std::to_string(m.model.n_iter) +
                               " passes (duality gap " + analysis::format_double(m.model.dual_gap) +
                               ")");
    std::map<std::string, double> zmap;
    std::vector<std::string> zkeys;
    if (zscore) {
        std::vector<analysis::intrinsic_report> rr;
        for (auto i : used) {
            analysis::intrinsic_report ir;
            ir.teacher = ct ? t.text(i, *ct) : std::to_string(i + 1);
            ir.lang = cl ? t.text(i, *cl) : "";
            ir.source = t.where(i);
            for (std::size_t c = 0; c < t.columns.size(); ++c) {
                if (t.is_missing(i, c)) continue;
                if (auto d = std::get_if<double>(&t.rows[i][c]))
                    ir.values.emplace_back(t.columns[c], *d);
                else if (auto s = std::get_if<std::string>(&t.rows[i][c]))
                    if (auto v = analysis::parse_double(*s))
                        ir.values.emplace_back(t.columns[c], *v);
            }
            rr.push_back(std::move(ir));
        }
        auto zr = analysis::compute_zscores(rr);
        warnings.insert(warnings.end(), zr.warnings.begin(), zr.warnings.end());
        for (std::size_t k = 0; k < rr.size(); ++k) {
            zkeys.push_back(rr[k].teacher + "|" + rr[k].lang);
            zmap[zkeys.back()] = zr.z[k];
        }
    }
    for (const auto& w : warnings) std::fprintf(stderr, "polyglot pca: %s\n", w.c_str());

    const Eigen::Index k = r.pca.components.rows();
    auto cum = stats::cumulative(r.pca.explained_variance_ratio);
    const stats::model_fit* best = nullptr;
    for (const auto& m : r.models)
        if (m.name == r.best_model) best = &m;
    std::string out;
    if (json) {
        io::json_writer w(2);
        auto vec = [&](const Eigen::VectorXd& v) {
            w.begin_array();
            for (Eigen::Index i = 0; i < v.size(); ++i) w.value(v[i]);
            w.end_array();
        };
        w.begin_object();
        if (!target.empty()) w.kv("best_model", r.best_model);
        w.kv("n_components", r.n_components);
        if (best) w.kv("r2_score", best->r2);
        w.key("explained_variance_ratio");
        vec(r.pca.explained_variance_ratio);
        w.key("cumulative_variance");
        vec(cum);
        w.key("feature_names").begin_array();
        for (const auto& f : features) w.value(f);
        w.end_array();
        w.key("pca_components").begin_array();
        for (Eigen::Index c = 0; c < k; ++c) vec(r.pca.components.row(c).transpose());
        w.end_array();
        if (best) {
            w.key("coefficients");
            vec(best->model.coef);
            w.kv("intercept", best->model.intercept);
        }
        // additions
        w.kv("n_samples", n).kv("rank", r.pca.rank);
        if (!target.empty()) w.kv("target", target);
        w.key("explained_variance");
        vec(r.pca.explained_variance);
        w.key("singular_values");
        vec(r.pca.singular_values);
        w.key("scaler").begin_object();
        w.key("mean");
        vec(r.scaling.mean);
        w.key("scale");
        vec(r.scaling.scale);
        w.end_object();
        w.kv("sign_convention", "largest |loading| of each component is positive");
        if (!target.empty()) {
            w.kv("best_model_loo", r.best_model_loo);
            w.key("models").begin_object();
            for (const auto& m : r.models) {
                w.key(m.name).begin_object();
                w.kv("r2", m.r2)
                    .kv("rmse", m.rmse)
                    .kv("loo_r2", m.loo_r2)
                    .kv("loo_rmse", m.loo_rmse);
                w.key("coefficients");
                vec(m.model.coef);
                w.kv("intercept", m.model.intercept);
                if (m.name == "lasso")
                    w.kv("n_iter", m.model.n_iter).kv("converged", m.model.converged);
                w.end_object();
            }
            w.end_object();
            w.key("rows").begin_array();
            for (Eigen::Index i = 0; i < n; ++i) {
                auto ri = used[static_cast<std::size_t>(i)];
                w.begin_object();
                if (ct) w.kv(teacher_col, t.text(ri, *ct));
                if (cl) w.kv(lang_col, t.text(ri, *cl));
                w.kv("target", y[i]);
                for (const auto& m : r.models) {
                    w.kv(m.name, m.fitted[i]);
                    if (o.leave_one_out) w.kv(m.name + "_loo", m.loo_predictions[i]);
                }
                w.end_object();
            }
            w.end_array();
        }
        if (zscore) {
            w.key("z_score").begin_object();
            for (const auto& key : zkeys) w.kv(key, zmap[key]);
            w.end_object();
        }
        w.key("warnings").begin_array();
        for (const auto& s : warnings) w.value(s);
        w.end_array();
        w.end_object();
        out = w.take() + "\n";
    } else {
        std::vector<std::string> lh{"component", "explained_variance_ratio", "cumulative"};
        lh.insert(lh.end(), features.begin(), features.end());
        std::vector<std::vector<std::string>> lr;
        for (Eigen::Index c = 0; c < k; ++c) {
            lr.push_back({"PC" + std::to_string(c + 1),
                          csv ? analysis::format_double(r.pca.explained_variance_ratio[c])
                              : fixed(r.pca.explained_variance_ratio[c], 4),
                          csv ? analysis::format_double(cum[c]) : fixed(cum[c], 4)});
            for (Eigen::Index j = 0; j < r.pca.components.cols(); ++j)
                lr.back().push_back(csv ? analysis::format_double(r.pca.components(c, j))
                                        : fixed(r.pca.components(c, j), 3));
        }
        if (csv) {
            out = analysis::csv_table(lh, lr);
        } else {
            out = "## PCA over " + std::to_string(n) + " rows × " +
                  std::to_string(features.size()) +
                  " standardized features (loadings; largest |loading| per component is "
                  "positive)\n\n" +
                  analysis::markdown_table(lh, lr);
            if (!target.empty()) {
                std::vector<std::string> mh{"model", "R² (in-sample)", "RMSE (in-sample)",
                                            "R² (LOO)", "RMSE (LOO)"};
                std::vector<std::vector<std::string>> mr;
                for (const auto& m : r.models)
                    mr.push_back(
                        {m.name, fixed(m.r2), fixed(m.rmse), fixed(m.loo_r2), fixed(m.loo_rmse)});
                out += "\n## Regressions of " + target + " on " + std::to_string(r.n_components) +
                       " component(s)\n\n" + analysis::markdown_table(mh, mr) +
                       "\nBest by in-sample R² (the reference's choice): " + r.best_model +
                       (o.leave_one_out ? "; best by leave-one-out R²: " + r.best_model_loo : "") +
                       ".\n";
            }
            if (zscore) {
                std::vector<std::vector<std::string>> zr;
                for (const auto& key : zkeys) {
                    auto bar = key.find('|');
                    zr.push_back({key.substr(0, bar), key.substr(bar + 1), fixed(zmap[key])});
                }
                out += "\n## Intrinsic z-score (reference definition, pooled over these rows)\n\n" +
                       analysis::markdown_table({teacher_col, lang_col, "z_score"}, zr);
            }
        }
    }
    write_output(output, out);

    if (!plot.empty()) {
        report::heatmap_spec h;
        h.title = "PCA loadings";
        h.subtitle = std::to_string(n) + " rows; sign: largest |loading| of each PC positive";
        for (Eigen::Index c = 0; c < k; ++c)
            h.row_labels.push_back("PC" + std::to_string(c + 1) + " (" +
                                   fixed(100 * r.pca.explained_variance_ratio[c], 1) + "%)");
        h.col_labels = features;
        for (Eigen::Index c = 0; c < k; ++c) {
            std::vector<double> row;
            for (Eigen::Index j = 0; j < r.pca.components.cols(); ++j)
                row.push_back(r.pca.components(c, j));
            h.values.push_back(row);
        }
        h.vmin = -1;
        h.vmax = 1;
        h.colorbar_label = "loading";
        write_output(plot, report::heatmap_svg(h));
    }
    if (!plot_fit.empty() && best) {
        report::scatter_spec s;
        s.title = "Predicted vs actual " + target + " (" + best->name + " on " +
                  std::to_string(r.n_components) + " PCs)";
        s.subtitle = "in-sample R² = " + fixed(best->r2, 3) + ", RMSE = " + fixed(best->rmse, 3) +
                     (o.leave_one_out ? "; leave-one-out R² = " + fixed(best->loo_r2, 3) +
                                            ", RMSE = " + fixed(best->loo_rmse, 3)
                                      : "");
        s.x_label = "actual " + target;
        s.y_label = "predicted " + target + " (in-sample)";
        s.identity_line = true;
        for (Eigen::Index i = 0; i < n; ++i) {
            auto ri = used[static_cast<std::size_t>(i)];
            s.x.push_back(y[i]);
            s.y.push_back(best->fitted[i]);
            s.group.push_back(cl ? t.text(ri, *cl) : "all");
            s.point_labels.push_back(label(ri));
        }
        write_output(plot_fit, report::scatter_svg(s));
    }
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("pca", "PCA of intrinsic features; regressions with LOO cross-validation",
                          run_pca);

}  // namespace polyglot::cli
