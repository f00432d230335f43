// SPDX-License-Identifier: Apache-2.0
// polyglot pgscore: intrinsic z-scores, PGR, PG-Score / PG_α and the teacher ranking. The
// computation is analysis::pgscore (analysis/pg_ranking.hpp).
#include <boost/program_options.hpp>
#include <map>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/pg_ranking.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/table.hpp>
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

/// --weights FEATURE=NUMBER,... @throws argument_error naming a bad item.
std::map<std::string, double> parse_weights(const std::string& arg) {
    std::map<std::string, double> weights;
    for (const auto& kv : analysis::split_list(arg)) {
        auto eq = kv.find('=');
        auto v = eq == std::string::npos ? std::nullopt : analysis::parse_double(kv.substr(eq + 1));
        if (!v) throw argument_error("--weights expects FEATURE=NUMBER, got '" + kv + "'");
        weights[kv.substr(0, eq)] = *v;
    }
    return weights;
}

/// pgscore's command line: the library's options and what only the CLI uses.
struct pgscore_args {
    analysis::pgscore_options o;
    std::vector<std::string> names, students;
    std::string pool = "global", weights, save_scaler, output = "-", plot, languages, table;
    bool json = false, csv = false, per_language = false;
};

const char* const pgscore_usage =
    "polyglot pgscore [options] [ROWS.jsonl|ROWS.csv ...]\n\n"
    "Polyglot Score of teacher models: PG-Score = (PGR + z)/2 per teacher × language, and "
    "the teacher ranking (mean over languages). Inputs combine freely:\n"
    "  ready PG-score rows (teacher_model, target_lang, result, pgr, z_score, pg_score):\n"
    "    pg_score is recomputed from pgr and z_score wherever both are present;\n"
    "  intrinsic reports (--reports / --name): z-scores over the pool of reports;\n"
    "  student results (rows' `result`, --students, --student) with anchors (--anchors or\n"
    "    --base/--ref): PGR = (student − base)/(ref − base), with loud warnings where\n"
    "    ref − base ≤ 0 or is within twice the combined stderr.\n\nOptions";

void add_options(po::options_description& desc, pgscore_args& a) {
    auto& o = a.o;
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("rows", po::value(&o.row_files)->composing(), "PG-score rows file(s) (.jsonl/.csv/.json)")
        ("reports", po::value(&o.report_files)->multitoken()->composing(),
            "intrinsic-metric reports (ours or the reference's *_intrinsic_metrics.json)")
        ("name", po::value(&a.names)->composing(),
            "TEACHER:LANG=FILE: an intrinsic report with its teacher and language")
        ("students", po::value(&o.student_tables)->composing(),
            "student results: table with teacher_model, target_lang, result[, result_stderr]")
        ("student", po::value(&a.students)->composing(),
            "TEACHER:LANG=FILE: a student's lighteval results (or table) for one language")
        ("anchors", po::value(&o.anchors_file),
            "table with target_lang, base, ref[, base_stderr, ref_stderr]")
        ("base", po::value(&o.base_files)->composing(),
            "base-model results: lighteval JSON or table; LANG=FILE for a lighteval file whose "
            "task keys carry no language (repeatable)")
        ("ref", po::value(&o.ref_files)->composing(), "reference-model results (as --base)")
        ("refuse-bad-anchors", po::bool_switch(&o.refuse_bad_anchors),
            "fail instead of warning when an anchor gap is ≤ 0 or within 2 stderr")
        ("alpha", po::value(&o.alpha)->default_value(0.5),
            "PG_α = α·z + (1−α)·PGR (0.5 = PG-Score)")
        ("pool", po::value(&a.pool)->default_value("global"),
            "z-score pool: global (reference) or per-language")
        ("weights", po::value(&a.weights),
            "z feature weights, e.g. prompts_distinct_ri=1,responses_distinct_ri=1,"
            "average_rubric_score=2,perplexity=2 (default all 1)")
        ("save-scaler", po::value(&a.save_scaler), "write the fitted z-score pool to FILE")
        ("load-scaler", po::value(&o.load_pool),
            "score reports against a saved pool instead of fitting one")
        ("teacher-column", po::value(&o.teacher_column)->default_value("teacher_model"),
            "column that names the teacher in row files (e.g. translate_method)")
        ("languages", po::value(&a.languages), "comma-separated languages to rank over")
        ("per-language", po::bool_switch(&a.per_language), "also show teacher × language PG-Scores")
        ("bootstrap", po::value(&o.bootstrap)->default_value(0),
            "language-bootstrap replicates for teacher PG-Score intervals (0 = off)")
        ("seed", po::value(&o.seed)->default_value(42), "bootstrap seed")
        ("level", po::value(&o.level)->default_value(0.95), "bootstrap interval level")
        ("json", po::bool_switch(&a.json), "JSON output")
        ("csv", po::bool_switch(&a.csv), "CSV output (the table chosen by --table)")
        ("table", po::value(&a.table),
            "CSV table: teachers (default), rows, or per-language")
        ("output,o", po::value(&a.output)->default_value("-"), "output file (- = stdout)")
        ("plot", po::value(&a.plot), "write a teacher × language PG-Score heatmap (SVG)");
    // clang-format on
}

/// Checks the combination of options and completes a.o from the CLI-only ones.
void finish(pgscore_args& a, const po::variables_map& vm) {
    auto& o = a.o;
    o.pool = pool_kind_of(a.pool);
    if (!(o.alpha >= 0 && o.alpha <= 1)) throw argument_error("--alpha must be in [0, 1]");
    if (!o.anchors_file.empty() && (!o.base_files.empty() || !o.ref_files.empty()))
        throw argument_error("give either --anchors or --base/--ref, not both");
    if (o.base_files.empty() != o.ref_files.empty())
        throw argument_error("--base and --ref go together");
    if (!o.load_pool.empty() && (vm.count("weights") || a.pool != "global"))
        throw argument_error(
            "--load-scaler uses the saved pool's kind and weights; drop "
            "--pool/--weights");
    for (const auto& spec : a.students) {
        auto n = parse_name_spec(spec, "--student");
        o.students.push_back({n.teacher, n.lang, n.file});
    }
    for (const auto& s : a.names) {
        auto n = parse_name_spec(s, "--name");
        o.named[n.file] = {n.teacher, n.lang};
        o.report_files.push_back(n.file);
    }
    // --weights is read only where a pool is fitted
    if (!o.report_files.empty() && o.load_pool.empty()) o.weights = parse_weights(a.weights);
    o.languages = analysis::split_list(a.languages);
}

int run_pgscore(int argc, char** argv) {
    pgscore_args a;
    po::options_description desc(pgscore_usage);
    add_options(desc, a);
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, {}, "rows", -1, vm)) return 0;
    const auto format = text_format_of(a.json, a.csv);
    finish(a, vm);

    // the three phases, saving the z-score pool before the anchors are checked (as always)
    auto in = analysis::collect_pg_rows(a.o);
    if (!a.save_scaler.empty() && in.pool)
        write_output(a.save_scaler, analysis::zscore_pool_to_json(*in.pool));
    analysis::apply_anchors(in, a.o);
    const auto res = analysis::rank_pg_rows(std::move(in), a.o);
    print_warnings("polyglot pgscore: ", res.warnings);
    write_result(a.output, analysis::render(res, format, a.per_language, a.table),
                 {{a.plot, [&] { return report::heatmap_svg(analysis::heatmap(res)); }}});
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("pgscore", "Polyglot Score: z-scores, PGR, PG-Score, teacher ranking",
                          run_pgscore);

}  // namespace polyglot::cli
