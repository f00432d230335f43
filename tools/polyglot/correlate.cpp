// SPDX-License-Identifier: Apache-2.0
// polyglot correlate: Spearman ρ between teacher rankings from several PG-score files, and the
// PG_α robustness matrix of one file. The computations are in analysis/correlate.hpp.
#include <boost/program_options.hpp>
#include <filesystem>
#include <polyglot/analysis/correlate.hpp>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/report/svg.hpp>
#include <string>
#include <utility>
#include <vector>

#include "analysis_cli.hpp"
#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

/// The α values of --alphas. @throws argument_error for a bad value or fewer than two.
std::vector<double> parse_alphas(const std::string& arg) {
    std::vector<double> alphas;
    for (const auto& a : analysis::split_list(arg)) {
        auto v = analysis::parse_double(a);
        if (!v || *v < 0 || *v > 1)
            throw argument_error("--alphas: '" + a + "' is not a number in [0, 1]");
        alphas.push_back(*v);
    }
    if (alphas.size() < 2) throw argument_error("--alphas needs at least two values");
    return alphas;
}

/// NAME=FILE inputs (a bare FILE is named by its stem).
std::vector<std::pair<std::string, std::string>> named_files(
    const std::vector<std::string>& inputs) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& in : inputs) {
        auto eq = in.find('=');
        out.emplace_back(
            eq == std::string::npos ? std::filesystem::path(in).stem().string() : in.substr(0, eq),
            eq == std::string::npos ? in : in.substr(eq + 1));
    }
    return out;
}

int run_correlate(int argc, char** argv) {
    std::vector<std::string> inputs;
    analysis::ranking_options o;
    std::string robustness, alphas_arg = "0,0.25,0.5,0.75,1", output = "-", plot;
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
        ("by", po::value(&o.by)->default_value(o.by), "grouping column (the ranked entities)")
        ("value", po::value(&o.value)->default_value(o.value), "column to average and rank")
        ("languages", po::value(&o.languages), "comma-separated languages (default: all)")
        ("lang-column", po::value(&o.lang_column)->default_value(o.lang_column),
            "language column")
        ("alpha-robustness", po::value(&robustness), "PG_α robustness matrix of FILE")
        ("alphas", po::value(&alphas_arg)->default_value(alphas_arg), "α values for --alpha-robustness")
        ("json", po::bool_switch(&json), "JSON output")
        ("csv", po::bool_switch(&csv), "CSV output")
        ("output,o", po::value(&output)->default_value("-"), "output file (- = stdout)")
        ("plot", po::value(&plot), "write the ρ matrix as an SVG heatmap with stars");
    // clang-format on
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&inputs), vm)) return 0;
    const auto format = text_format_of(json, csv);
    if (!robustness.empty()) {
        if (!inputs.empty()) throw argument_error("--alpha-robustness takes no NAME=FILE inputs");
        const auto alphas = parse_alphas(alphas_arg);
        const auto res =
            analysis::pg_alpha_robustness(robustness, alphas, analysis::split_list(o.languages));
        write_result(output, analysis::render(res, format),
                     {{plot, [&] { return report::heatmap_svg(analysis::heatmap(res)); }}});
        return 0;
    }
    if (inputs.size() < 2) throw argument_error("give at least two NAME=FILE inputs");
    const auto res = analysis::correlate_rankings(named_files(inputs), o);
    print_warnings("polyglot correlate: ", res.warnings);
    write_result(output, analysis::render(res, format),
                 {{plot, [&] { return report::heatmap_svg(analysis::heatmap(res)); }}});
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("correlate", "Spearman ρ between teacher rankings; PG_α robustness",
                          run_correlate);

}  // namespace polyglot::cli
