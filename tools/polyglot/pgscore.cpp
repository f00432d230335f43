// SPDX-License-Identifier: Apache-2.0
// polyglot pgscore: intrinsic z-scores, PGR, PG-Score / PG_α and the teacher ranking.
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstring>
#include <map>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/inputs.hpp>
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

using analysis::fixed;

bool has_ext(const std::string& p, const char* ext) {
    return p.size() >= std::strlen(ext) &&
           p.compare(p.size() - std::strlen(ext), std::string::npos, ext) == 0;
}

// Per-language results from a lighteval JSON or a table (target_lang, result[, result_stderr]).
// "LANG=FILE" makes a lighteval file's language-less tasks count for LANG.
std::map<std::string, std::pair<double, double>> read_results(const std::string& spec) {
    std::string path = spec, lang;
    if (auto eq = spec.find('=');
        eq != std::string::npos && eq <= 8 && spec.substr(0, eq).find('/') == std::string::npos) {
        lang = spec.substr(0, eq);
        path = spec.substr(eq + 1);
    }
    std::map<std::string, std::pair<double, double>> res;
    if (has_ext(path, ".json")) {
        auto root = analysis::read_json_file(path);
        if (analysis::looks_like_lighteval(root))
            res = analysis::results_by_language(analysis::lighteval_from_json(root, path), lang);
        else
            res = analysis::results_by_language(analysis::table_from_json(root, path));
    } else {
        res = analysis::results_by_language(analysis::read_table(path));
    }
    if (!lang.empty()) {
        if (!res.count(lang)) throw format_error(path + ": no result for language '" + lang + "'");
        return {{lang, res.at(lang)}};
    }
    if (res.empty())
        throw format_error(path + ": no task carries a language code; give it as LANG=" + path);
    return res;
}

std::map<std::string, std::pair<double, double>> read_results(
    const std::vector<std::string>& specs) {
    std::map<std::string, std::pair<double, double>> all;
    for (const auto& s : specs)
        for (const auto& [lang, v] : read_results(s))
            if (!all.emplace(lang, v).second)
                throw argument_error("language '" + lang + "' given twice (" + s + ")");
    return all;
}

analysis::pg_row& find_or_add(std::vector<analysis::pg_row>& rows, const std::string& teacher,
                              const std::string& lang, const std::string& where) {
    for (auto& r : rows)
        if (r.teacher == teacher && r.lang == lang) return r;
    analysis::pg_row r;
    r.teacher = teacher;
    r.lang = lang;
    r.where = where;
    rows.push_back(r);
    return rows.back();
}

int run_pgscore(int argc, char** argv) {
    std::vector<std::string> row_files, report_files, names, students, languages_arg;
    std::vector<std::string> base_files, ref_files;
    std::string anchors_file, pool = "global", weights, save_scaler, load_scaler, output = "-",
                              plot, languages, teacher_column = "teacher_model", what;
    double alpha = 0.5, level = 0.95;
    std::size_t bootstrap = 0;
    std::uint64_t seed = 42;
    bool json = false, csv = false, per_language = false, refuse_bad_anchors = false;

    po::options_description desc(
        "polyglot pgscore [options] [ROWS.jsonl|ROWS.csv ...]\n\n"
        "Polyglot Score of teacher models: PG-Score = (PGR + z)/2 per teacher × language, and "
        "the teacher ranking (mean over languages). Inputs combine freely:\n"
        "  ready PG-score rows (teacher_model, target_lang, result, pgr, z_score, pg_score):\n"
        "    pg_score is recomputed from pgr and z_score wherever both are present;\n"
        "  intrinsic reports (--reports / --name): z-scores over the pool of reports;\n"
        "  student results (rows' `result`, --students, --student) with anchors (--anchors or\n"
        "    --base/--ref): PGR = (student − base)/(ref − base), with loud warnings where\n"
        "    ref − base ≤ 0 or is within twice the combined stderr.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("rows", po::value(&row_files)->composing(), "PG-score rows file(s) (.jsonl/.csv/.json)")
        ("reports", po::value(&report_files)->multitoken()->composing(),
            "intrinsic-metric reports (ours or the reference's *_intrinsic_metrics.json)")
        ("name", po::value(&names)->composing(),
            "TEACHER:LANG=FILE: an intrinsic report with its teacher and language")
        ("students", po::value(&students)->composing(),
            "student results: table with teacher_model, target_lang, result[, result_stderr]")
        ("student", po::value<std::vector<std::string>>()->composing(),
            "TEACHER:LANG=FILE: a student's lighteval results (or table) for one language")
        ("anchors", po::value(&anchors_file),
            "table with target_lang, base, ref[, base_stderr, ref_stderr]")
        ("base", po::value(&base_files)->composing(),
            "base-model results: lighteval JSON or table; LANG=FILE for a lighteval file whose "
            "task keys carry no language (repeatable)")
        ("ref", po::value(&ref_files)->composing(), "reference-model results (as --base)")
        ("refuse-bad-anchors", po::bool_switch(&refuse_bad_anchors),
            "fail instead of warning when an anchor gap is ≤ 0 or within 2 stderr")
        ("alpha", po::value(&alpha)->default_value(0.5),
            "PG_α = α·z + (1−α)·PGR (0.5 = PG-Score)")
        ("pool", po::value(&pool)->default_value("global"),
            "z-score pool: global (reference) or per-language")
        ("weights", po::value(&weights),
            "z feature weights, e.g. prompts_distinct_ri=1,responses_distinct_ri=1,"
            "average_rubric_score=2,perplexity=2 (default all 1)")
        ("save-scaler", po::value(&save_scaler), "write the fitted z-score pool to FILE")
        ("load-scaler", po::value(&load_scaler),
            "score reports against a saved pool instead of fitting one")
        ("teacher-column", po::value(&teacher_column)->default_value("teacher_model"),
            "column that names the teacher in row files (e.g. translate_method)")
        ("languages", po::value(&languages), "comma-separated languages to rank over")
        ("per-language", po::bool_switch(&per_language), "also show teacher × language PG-Scores")
        ("bootstrap", po::value(&bootstrap)->default_value(0),
            "language-bootstrap replicates for teacher PG-Score intervals (0 = off)")
        ("seed", po::value(&seed)->default_value(42), "bootstrap seed")
        ("level", po::value(&level)->default_value(0.95), "bootstrap interval level")
        ("json", po::bool_switch(&json), "JSON output")
        ("csv", po::bool_switch(&csv), "CSV output (the table chosen by --table)")
        ("table", po::value(&what),
            "CSV table: teachers (default), rows, or per-language")
        ("output,o", po::value(&output)->default_value("-"), "output file (- = stdout)")
        ("plot", po::value(&plot), "write a teacher × language PG-Score heatmap (SVG)");
    // clang-format on
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, {}, "rows", -1, vm)) return 0;
    if (json && csv) throw argument_error("--json and --csv exclude each other");
    if (pool != "global" && pool != "per-language")
        throw argument_error("--pool must be global or per-language");
    if (!(alpha >= 0 && alpha <= 1)) throw argument_error("--alpha must be in [0, 1]");
    if (!anchors_file.empty() && (!base_files.empty() || !ref_files.empty()))
        throw argument_error("give either --anchors or --base/--ref, not both");
    if (base_files.empty() != ref_files.empty())
        throw argument_error("--base and --ref go together");
    if (!load_scaler.empty() && (vm.count("weights") || pool != "global"))
        throw argument_error(
            "--load-scaler uses the saved pool's kind and weights; drop "
            "--pool/--weights");

    std::vector<std::string> warnings;
    std::vector<analysis::pg_row> rows;
    analysis::row_keys keys;
    keys.teacher = teacher_column;
    for (const auto& f : row_files) {
        auto more = analysis::pg_rows_from_table(analysis::read_table(f), keys);
        for (auto& r : more) {
            for (const auto& e : rows)
                if (e.teacher == r.teacher && e.lang == r.lang)
                    throw format_error(r.where + ": duplicate " + teacher_column +
                                       " × target_lang row ('" + r.teacher + "', '" + r.lang +
                                       "'); first at " + e.where);
            rows.push_back(std::move(r));
        }
    }

    // student results
    for (const auto& f : students) {
        auto t = analysis::read_table(f);
        auto srows = analysis::pg_rows_from_table(t, keys);
        for (const auto& s : srows) {
            if (std::isnan(s.result)) throw format_error(s.where + ": column 'result' is missing");
            auto& r = find_or_add(rows, s.teacher, s.lang, s.where);
            r.result = s.result;
            r.result_stderr = s.result_stderr;
        }
    }
    if (vm.count("student"))
        for (const auto& spec : vm["student"].as<std::vector<std::string>>()) {
            auto n = parse_name_spec(spec, "--student");
            std::map<std::string, std::pair<double, double>> res;
            if (has_ext(n.file, ".json")) {
                auto root = analysis::read_json_file(n.file);
                if (!analysis::looks_like_lighteval(root))
                    throw format_error(n.file + ": not a lighteval results file");
                res = analysis::results_by_language(analysis::lighteval_from_json(root, n.file),
                                                    n.lang);
            } else {
                res = read_results(std::string(n.file));
            }
            auto it = res.find(n.lang);
            if (it == res.end())
                throw format_error(n.file + ": no result for language '" + n.lang + "'");
            auto& r = find_or_add(rows, n.teacher, n.lang, n.file);
            r.result = it->second.first;
            r.result_stderr = it->second.second;
        }

    // intrinsic z-scores
    std::map<std::string, std::pair<std::string, std::string>> named;
    for (const auto& s : names) {
        auto n = parse_name_spec(s, "--name");
        named[n.file] = {n.teacher, n.lang};
        report_files.push_back(n.file);
    }
    if (!report_files.empty()) {
        auto reports = analysis::load_reports(report_files, named);
        std::vector<double> z;
        if (!load_scaler.empty()) {
            auto p =
                analysis::zscore_pool_from_json(analysis::read_json_file(load_scaler), load_scaler);
            z = analysis::apply_zscore_pool(p, reports);
            if (!save_scaler.empty()) write_output(save_scaler, analysis::zscore_pool_to_json(p));
        } else {
            analysis::zscore_options zo;
            zo.pool =
                pool == "global" ? analysis::pool_kind::global : analysis::pool_kind::per_language;
            for (const auto& kv : analysis::split_list(weights)) {
                auto eq = kv.find('=');
                auto v = eq == std::string::npos ? std::nullopt
                                                 : analysis::parse_double(kv.substr(eq + 1));
                if (!v) throw argument_error("--weights expects FEATURE=NUMBER, got '" + kv + "'");
                zo.weights[kv.substr(0, eq)] = *v;
            }
            auto zr = analysis::compute_zscores(reports, zo);
            warnings.insert(warnings.end(), zr.warnings.begin(), zr.warnings.end());
            z = zr.z;
            if (!save_scaler.empty())
                write_output(save_scaler, analysis::zscore_pool_to_json(zr.pool));
        }
        for (std::size_t i = 0; i < reports.size(); ++i) {
            auto& r = find_or_add(rows, reports[i].teacher, reports[i].lang, reports[i].source);
            if (std::isfinite(r.z_score) && std::fabs(r.z_score - z[i]) > 1e-6)
                warnings.push_back(r.where + ": z_score " + analysis::format_double(r.z_score) +
                                   " replaced by " + analysis::format_double(z[i]) +
                                   " from the reports' pool");
            r.z_score = z[i];
        }
    }

    // anchors and PGR
    std::map<std::string, analysis::anchor> anchors;
    if (!anchors_file.empty())
        anchors = analysis::anchors_from_table(analysis::read_table(anchors_file));
    if (!base_files.empty())
        anchors = analysis::make_anchors(read_results(base_files), read_results(ref_files));
    if (!anchors_file.empty() || !base_files.empty()) {
        std::vector<analysis::pg_row> sub;
        for (auto& r : rows)
            if (!std::isnan(r.result)) sub.push_back(r);
        auto given = sub;
        auto aw = analysis::compute_pgr(sub, anchors);
        if (refuse_bad_anchors && !aw.empty()) {
            std::string all;
            for (const auto& w : aw) all += "\n  " + w;
            throw numerical_error("anchors unusable (--refuse-bad-anchors):" + all);
        }
        warnings.insert(warnings.end(), aw.begin(), aw.end());
        for (std::size_t i = 0; i < sub.size(); ++i) {
            auto& r = find_or_add(rows, sub[i].teacher, sub[i].lang, sub[i].where);
            if (std::isfinite(given[i].pgr) && std::fabs(given[i].pgr - sub[i].pgr) > 1e-6)
                warnings.push_back(r.where + ": pgr " + analysis::format_double(given[i].pgr) +
                                   " replaced by " + analysis::format_double(sub[i].pgr) +
                                   " from the anchors");
            r.pgr = sub[i].pgr;
        }
    }
    if (rows.empty()) throw argument_error("no input rows (give row files, reports or students)");

    auto rw = analysis::recompute_pg(rows, alpha);
    warnings.insert(warnings.end(), rw.begin(), rw.end());
    std::vector<std::string> langs = analysis::split_list(languages);
    for (const auto& l : langs) {
        bool found = false;
        for (const auto& r : rows) found = found || r.lang == l;
        if (!found) throw argument_error("--languages: no row has language '" + l + "'");
    }
    auto selected = analysis::select_languages(rows, langs);
    auto ranking = analysis::rank_teachers(selected);
    auto cw = analysis::coverage_warnings(ranking);
    warnings.insert(warnings.end(), cw.begin(), cw.end());
    if (bootstrap > 0) analysis::bootstrap_teachers(ranking, selected, bootstrap, seed, level);
    for (const auto& r : selected)
        if (std::isnan(r.pg_score))
            warnings.push_back(r.where + ": no pg_score (needs pgr and z_score, or pg_score)");

    for (const auto& w : warnings) std::fprintf(stderr, "polyglot pgscore: %s\n", w.c_str());

    // teacher × language pivot
    std::vector<std::string> all_langs;
    for (const auto& r : selected)
        if (std::find(all_langs.begin(), all_langs.end(), r.lang) == all_langs.end())
            all_langs.push_back(r.lang);
    auto cell = [&](const std::string& t, const std::string& l) {
        for (const auto& r : selected)
            if (r.teacher == t && r.lang == l) return r.pg_score;
        return analysis::nan_value;
    };

    std::string out;
    if (json) {
        io::json_writer w(2);
        w.begin_object();
        w.kv("alpha", alpha);
        w.key("languages").begin_array();
        for (const auto& l : all_langs) w.value(l);
        w.end_array();
        w.key("rows").begin_array();
        for (const auto& r : selected) {
            w.begin_object();
            w.kv("teacher_model", r.teacher).kv("target_lang", r.lang);
            w.kv("result", r.result);
            if (!std::isnan(r.result_stderr)) w.kv("result_stderr", r.result_stderr);
            w.kv("pgr", r.pgr).kv("z_score", r.z_score).kv("pg_score", r.pg_score);
            w.kv("pg_source", r.pg_source);
            w.end_object();
        }
        w.end_array();
        w.key("teachers").begin_array();
        for (const auto& t : ranking) {
            w.begin_object();
            w.kv("teacher_model", t.teacher).kv("pg_score", t.pg_score).kv("pgr", t.pgr);
            w.kv("z_score", t.z_score).kv("result", t.result).kv("n_languages", t.n_languages);
            if (bootstrap > 0) {
                w.kv("pg_score_lo", t.pg_lo).kv("pg_score_hi", t.pg_hi).kv("pg_score_se", t.pg_se);
                w.kv("p_first", t.p_first);
            }
            w.end_object();
        }
        w.end_array();
        if (per_language) {
            w.key("per_language").begin_object();
            for (const auto& t : ranking) {
                w.key(t.teacher).begin_object();
                for (const auto& l : all_langs) w.kv(l, cell(t.teacher, l));
                w.end_object();
            }
            w.end_object();
        }
        if (bootstrap > 0) {
            w.key("bootstrap").begin_object();
            w.kv("replicates", bootstrap).kv("seed", seed).kv("level", level);
            w.kv("resampled", "languages");
            w.end_object();
        }
        w.key("warnings").begin_array();
        for (const auto& s : warnings) w.value(s);
        w.end_array();
        w.end_object();
        out = w.take() + "\n";
    } else {
        // CSV keeps every digit; markdown shows 4 decimals
        auto num = [&](double v, int decimals = 4) {
            return csv ? (std::isnan(v) ? std::string() : analysis::format_double(v))
                       : fixed(v, decimals);
        };
        std::vector<std::string> rh{"teacher_model", "target_lang", "result",
                                    "pgr",           "z_score",     "pg_score"};
        std::vector<std::vector<std::string>> rr;
        for (const auto& r : selected)
            rr.push_back(
                {r.teacher, r.lang, num(r.result), num(r.pgr), num(r.z_score), num(r.pg_score)});
        std::vector<std::string> th{"rank",    "teacher_model", "pg_score", "pgr",
                                    "z_score", "result",        "languages"};
        if (bootstrap > 0) {
            th.push_back("pg_lo");
            th.push_back("pg_hi");
            th.push_back("P(first)");
        }
        std::vector<std::vector<std::string>> tr;
        for (std::size_t i = 0; i < ranking.size(); ++i) {
            const auto& t = ranking[i];
            tr.push_back({std::to_string(i + 1), t.teacher, num(t.pg_score), num(t.pgr),
                          num(t.z_score), num(t.result), std::to_string(t.n_languages)});
            if (bootstrap > 0) {
                tr.back().push_back(num(t.pg_lo));
                tr.back().push_back(num(t.pg_hi));
                tr.back().push_back(num(t.p_first, 3));
            }
        }
        std::vector<std::string> ph{"teacher_model"};
        ph.insert(ph.end(), all_langs.begin(), all_langs.end());
        std::vector<std::vector<std::string>> pr;
        for (const auto& t : ranking) {
            pr.push_back({t.teacher});
            for (const auto& l : all_langs) pr.back().push_back(num(cell(t.teacher, l)));
        }
        if (csv) {
            if (what.empty() || what == "teachers")
                out = analysis::csv_table(th, tr);
            else if (what == "rows")
                out = analysis::csv_table(rh, rr);
            else if (what == "per-language")
                out = analysis::csv_table(ph, pr);
            else
                throw argument_error("--table must be teachers, rows or per-language");
        } else {
            std::string lang_note;
            for (const auto& l : all_langs) lang_note += (lang_note.empty() ? "" : ", ") + l;
            out = "## PG-Score rows (α = " + analysis::format_double(alpha) + ")\n\n" +
                  analysis::markdown_table(rh, rr) + "\n## Teacher ranking (mean over " +
                  lang_note + ")\n\n" + analysis::markdown_table(th, tr);
            if (bootstrap > 0)
                out += "\npg_lo/pg_hi: " + analysis::format_double(level * 100) +
                       "% percentile interval over " + std::to_string(bootstrap) +
                       " language resamples (seed " + std::to_string(seed) +
                       "); P(first): share of resamples ranking the teacher first.\n";
            if (per_language)
                out += "\n## PG-Score per language\n\n" + analysis::markdown_table(ph, pr);
            if (!warnings.empty())
                out += "\n" + std::to_string(warnings.size()) +
                       " warning(s) were printed to stderr.\n";
        }
    }
    write_output(output, out);

    if (!plot.empty()) {
        report::heatmap_spec h;
        h.title = alpha == 0.5
                      ? "PG-Score by teacher and language"
                      : "PG_" + analysis::format_double(alpha) + " by teacher and language";
        h.subtitle = "teachers sorted by mean PG-Score (last column)";
        for (const auto& t : ranking) h.row_labels.push_back(t.teacher);
        h.col_labels = all_langs;
        h.col_labels.push_back("mean");
        for (const auto& t : ranking) {
            std::vector<double> row;
            for (const auto& l : all_langs) row.push_back(cell(t.teacher, l));
            row.push_back(t.pg_score);
            h.values.push_back(row);
        }
        h.colorbar_label = "PG-Score";
        write_output(plot, report::heatmap_svg(h));
    }
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("pgscore", "Polyglot Score: z-scores, PGR, PG-Score, teacher ranking",
                          run_pgscore);

}  // namespace polyglot::cli
