// SPDX-License-Identifier: Apache-2.0
// polyglot compare REPORT...: intrinsic-metric reports side by side (one row per report, i.e.
// teacher × language), with the intrinsic z-score and a ranking, as a table, CSV, JSON or an
// SVG heatmap. The comparison itself is analysis::compare_reports.
#include <boost/program_options.hpp>
#include <polyglot/analysis/compare.hpp>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/reports.hpp>
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
    analysis::compare_options o;
    o.pool = pool_kind_of(pool);
    if (!columns_arg.empty()) o.columns = analysis::split_list(columns_arg);
    o.z = !no_z;
    o.sort = sort;
    std::vector<analysis::intrinsic_report> reports;
    for (const auto& f : files) reports.push_back(analysis::read_intrinsic_report(f));
    for (const auto& n : names) {
        auto s = parse_name_spec(n, "--name");
        reports.push_back(analysis::read_intrinsic_report(s.file, s.teacher, s.lang));
    }
    if (reports.empty()) throw argument_error("no report given (see polyglot compare --help)");

    const auto res = analysis::compare_reports(std::move(reports), o);
    write_output(output, analysis::render(res, format == "table" ? analysis::text_format::markdown
                                               : format == "csv" ? analysis::text_format::csv
                                                                 : analysis::text_format::json));
    print_warnings("polyglot compare: warning: ", res.warnings);
    write_plots({{svg, [&] { return report::heatmap_svg(analysis::heatmap(res)); }}});
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("compare", "score reports side by side (table, CSV, JSON, SVG), ranked",
                          run_compare);

}  // namespace polyglot::cli
