// SPDX-License-Identifier: Apache-2.0
// polyglot pca: variance decomposition of intrinsic features and regressions of a target on
// the principal components (reference.md §9), with leave-one-out cross-validation. The
// analysis is analysis::analyze_pca (analysis/pca.hpp).
#include <boost/program_options.hpp>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/pca.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/report/svg.hpp>
#include <string>
#include <vector>

#include "analysis_cli.hpp"
#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

/// pca's command line: the library's options and what only the CLI uses.
struct pca_args {
    analysis::pca_options o;
    std::vector<std::string> names;
    std::string features, models = "linear,ridge,lasso,quadratic", output = "-", plot, plot_fit;
    bool json = false, csv = false, no_loo = false;
};

const char* const pca_usage =
    "polyglot pca [options] TABLE.csv|TABLE.jsonl|REPORT.json...\n\n"
    "Standardize the features (ddof 0), PCA (sign convention: the largest |loading| of each "
    "component is positive), explained variance ratios and loadings; with --target, "
    "regress the target on the component scores (linear, ridge α=1, lasso α=0.1, "
    "quadratic) and report R²/RMSE in-sample (as the reference) and leave-one-out "
    "cross-validated (scaler, PCA and model refitted in every fold).\n"
    "Rows: one per teacher × language, from tables or from intrinsic reports.\n\nOptions";

void add_options(po::options_description& desc, pca_args& a) {
    auto& o = a.o;
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("features", po::value(&a.features),
            "comma-separated feature columns (default: the paper's six: prompts_distinct_ri, "
            "responses_distinct_ri, average_perplexity, average_rubric_score, "
            "prompts_average_length, responses_average_length)")
        ("target", po::value(&o.target), "column to regress on the components (e.g. result, pg_score)")
        ("join", po::value(&o.join),
            "table to take --target from, inner-joined on teacher_model × target_lang")
        ("name", po::value(&a.names)->composing(), "TEACHER:LANG=FILE: a report with its names")
        ("models", po::value(&a.models)->default_value(a.models), "regressions to fit")
        ("ridge-alpha", po::value(&o.ridge_alpha)->default_value(1.0), "ridge penalty")
        ("lasso-alpha", po::value(&o.lasso_alpha)->default_value(0.1), "lasso penalty")
        ("n-components", po::value(&o.n_components)->default_value(0),
            "components to regress on (0 = all up to the numerical rank)")
        ("no-loo", po::bool_switch(&a.no_loo), "skip leave-one-out cross-validation")
        ("dropna", po::bool_switch(&o.dropna),
            "drop rows with a missing feature/target (as the reference) instead of failing")
        ("z-score", po::bool_switch(&o.zscore),
            "also compute the reference's intrinsic z-score over the rows")
        ("teacher-column", po::value(&o.teacher_column)->default_value(o.teacher_column),
            "teacher column")
        ("lang-column", po::value(&o.lang_column)->default_value(o.lang_column), "language column")
        ("json", po::bool_switch(&a.json), "JSON output (pca_results.json keys + additions)")
        ("csv", po::bool_switch(&a.csv), "CSV output (the loadings)")
        ("output,o", po::value(&a.output)->default_value("-"), "output file (- = stdout)")
        ("plot", po::value(&a.plot), "write the loadings heatmap (SVG)")
        ("plot-fit", po::value(&a.plot_fit),
            "write predicted vs actual of the best model (SVG), coloured by language");
    // clang-format on
}

int run_pca(int argc, char** argv) {
    pca_args a;
    auto& o = a.o;
    po::options_description desc(pca_usage);
    add_options(desc, a);
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&o.inputs), vm)) return 0;
    const auto format = text_format_of(a.json, a.csv);
    if (!o.join.empty() && o.target.empty()) throw argument_error("--join needs --target");
    if (!a.plot_fit.empty() && o.target.empty()) throw argument_error("--plot-fit needs --target");
    for (const auto& s : a.names) {
        auto n = parse_name_spec(s, "--name");
        o.named[n.file] = {n.teacher, n.lang};
        o.inputs.push_back(n.file);
    }
    if (o.inputs.empty()) throw argument_error("no input tables or reports");
    if (!a.features.empty()) o.features = analysis::split_list(a.features);
    o.models = analysis::split_list(a.models);
    o.leave_one_out = !a.no_loo;

    const auto res = analysis::analyze_pca(o);
    print_warnings("polyglot pca: ", res.warnings);
    write_result(a.output, analysis::render(res, format),
                 {{a.plot, [&] { return report::heatmap_svg(analysis::loadings_heatmap(res)); }},
                  {res.best() ? a.plot_fit : std::string(),
                   [&] { return report::scatter_svg(analysis::fit_scatter(res)); }}});
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("pca", "PCA of intrinsic features; regressions with LOO cross-validation",
                          run_pca);

}  // namespace polyglot::cli
