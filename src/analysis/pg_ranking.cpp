// SPDX-License-Identifier: Apache-2.0
// `polyglot pgscore`: PG-Score rows from rows, students, reports and anchors; the teacher
// ranking; and their markdown, CSV, JSON and heatmap forms.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <polyglot/analysis/inputs.hpp>
#include <polyglot/analysis/pg_ranking.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <string>
#include <vector>

#include "analysis/result_json.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {
namespace {

using results = std::map<std::string, std::pair<double, double>>;  // lang → (result, stderr)

bool has_ext(const std::string& p, const char* ext) {
    return p.size() >= std::strlen(ext) &&
           p.compare(p.size() - std::strlen(ext), std::string::npos, ext) == 0;
}

// Per-language results from a lighteval JSON or a table (target_lang, result[, result_stderr]).
// "LANG=FILE" makes a lighteval file's language-less tasks count for LANG.
results read_results(const std::string& spec) {
    std::string path = spec, lang;
    if (auto eq = spec.find('=');
        eq != std::string::npos && eq <= 8 && spec.substr(0, eq).find('/') == std::string::npos) {
        lang = spec.substr(0, eq);
        path = spec.substr(eq + 1);
    }
    results res;
    if (has_ext(path, ".json")) {
        auto root = read_json_file(path);
        if (looks_like_lighteval(root))
            res = results_by_language(lighteval_from_json(root, path), lang);
        else
            res = results_by_language(table_from_json(root, path));
    } else {
        res = results_by_language(read_table(path));
    }
    if (!lang.empty()) {
        if (!res.count(lang)) throw format_error(path + ": no result for language '" + lang + "'");
        return {{lang, res.at(lang)}};
    }
    if (res.empty())
        throw format_error(path + ": no task carries a language code; give it as LANG=" + path);
    return res;
}

results read_results(const std::vector<std::string>& specs) {
    results all;
    for (const auto& s : specs)
        for (const auto& [lang, v] : read_results(s))
            if (!all.emplace(lang, v).second)
                throw argument_error("language '" + lang + "' given twice (" + s + ")");
    return all;
}

pg_row& find_or_add(std::vector<pg_row>& rows, const std::string& teacher, const std::string& lang,
                    const std::string& where) {
    for (auto& r : rows)
        if (r.teacher == teacher && r.lang == lang) return r;
    pg_row r;
    r.teacher = teacher;
    r.lang = lang;
    r.where = where;
    rows.push_back(r);
    return rows.back();
}

void add_row_files(std::vector<pg_row>& rows, const pgscore_options& o, const row_keys& keys) {
    for (const auto& f : o.row_files) {
        auto more = pg_rows_from_table(read_table(f), keys);
        for (auto& r : more) {
            for (const auto& e : rows)
                if (e.teacher == r.teacher && e.lang == r.lang)
                    throw format_error(r.where + ": duplicate " + o.teacher_column +
                                       " × target_lang row ('" + r.teacher + "', '" + r.lang +
                                       "'); first at " + e.where);
            rows.push_back(std::move(r));
        }
    }
}

void add_students(std::vector<pg_row>& rows, const pgscore_options& o, const row_keys& keys) {
    for (const auto& f : o.student_tables) {
        auto srows = pg_rows_from_table(read_table(f), keys);
        for (const auto& s : srows) {
            if (std::isnan(s.result)) throw format_error(s.where + ": column 'result' is missing");
            auto& r = find_or_add(rows, s.teacher, s.lang, s.where);
            r.result = s.result;
            r.result_stderr = s.result_stderr;
        }
    }
    for (const auto& n : o.students) {
        results res;
        if (has_ext(n.file, ".json")) {
            auto root = read_json_file(n.file);
            if (!looks_like_lighteval(root))
                throw format_error(n.file + ": not a lighteval results file");
            res = results_by_language(lighteval_from_json(root, n.file), n.lang);
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
}

// The reports' z-scores over a fitted (or the loaded) pool.
void add_zscores(pg_inputs& in, const pgscore_options& o) {
    auto reports = load_reports(o.report_files, o.named);
    std::vector<double> z;
    if (!o.load_pool.empty()) {
        in.pool = zscore_pool_from_json(read_json_file(o.load_pool), o.load_pool);
        z = apply_zscore_pool(*in.pool, reports);
    } else {
        zscore_options zo;
        zo.pool = o.pool;
        zo.weights = o.weights;
        auto zr = compute_zscores(reports, zo);
        in.warnings.insert(in.warnings.end(), zr.warnings.begin(), zr.warnings.end());
        z = zr.z;
        in.pool = std::move(zr.pool);
    }
    for (std::size_t i = 0; i < reports.size(); ++i) {
        auto& r = find_or_add(in.rows, reports[i].teacher, reports[i].lang, reports[i].source);
        if (std::isfinite(r.z_score) && std::fabs(r.z_score - z[i]) > 1e-6)
            in.warnings.push_back(r.where + ": z_score " + format_double(r.z_score) +
                                  " replaced by " + format_double(z[i]) +
                                  " from the reports' pool");
        r.z_score = z[i];
    }
}

std::string to_json(const pg_ranking& r, bool per_language) {
    io::json_writer w(2);
    w.begin_object();
    w.kv("alpha", r.alpha);
    w.key("languages").begin_array();
    for (const auto& l : r.languages) w.value(l);
    w.end_array();
    w.key("rows").begin_array();
    for (const auto& row : r.rows) {
        w.begin_object();
        w.kv("teacher_model", row.teacher).kv("target_lang", row.lang);
        w.kv("result", row.result);
        if (!std::isnan(row.result_stderr)) w.kv("result_stderr", row.result_stderr);
        w.kv("pgr", row.pgr).kv("z_score", row.z_score).kv("pg_score", row.pg_score);
        w.kv("pg_source", row.pg_source);
        w.end_object();
    }
    w.end_array();
    w.key("teachers").begin_array();
    for (const auto& t : r.teachers) {
        w.begin_object();
        w.kv("teacher_model", t.teacher).kv("pg_score", t.pg_score).kv("pgr", t.pgr);
        w.kv("z_score", t.z_score).kv("result", t.result).kv("n_languages", t.n_languages);
        if (r.bootstrap > 0) {
            w.kv("pg_score_lo", t.pg_lo).kv("pg_score_hi", t.pg_hi).kv("pg_score_se", t.pg_se);
            w.kv("p_first", t.p_first);
        }
        w.end_object();
    }
    w.end_array();
    if (per_language) {
        w.key("per_language").begin_object();
        for (const auto& t : r.teachers) {
            w.key(t.teacher).begin_object();
            for (const auto& l : r.languages) w.kv(l, r.pg_score(t.teacher, l));
            w.end_object();
        }
        w.end_object();
    }
    if (r.bootstrap > 0) {
        w.key("bootstrap").begin_object();
        w.kv("replicates", r.bootstrap).kv("seed", r.seed).kv("level", r.level);
        w.kv("resampled", "languages");
        w.end_object();
    }
    return detail::finish_document(w, r.warnings);
}

/// The three tables (rows, teachers, per-language) as text cells: CSV keeps every digit,
/// markdown shows 4 decimals.
struct pg_tables {
    std::vector<std::string> rh, th, ph;
    std::vector<std::vector<std::string>> rr, tr, pr;
};

pg_tables tables(const pg_ranking& r, bool csv) {
    auto num = [&](double v, int decimals = 4) {
        return csv ? (std::isnan(v) ? std::string() : format_double(v)) : fixed(v, decimals);
    };
    pg_tables t;
    t.rh = {"teacher_model", "target_lang", "result", "pgr", "z_score", "pg_score"};
    for (const auto& row : r.rows)
        t.rr.push_back({row.teacher, row.lang, num(row.result), num(row.pgr), num(row.z_score),
                        num(row.pg_score)});
    t.th = {"rank", "teacher_model", "pg_score", "pgr", "z_score", "result", "languages"};
    if (r.bootstrap > 0) t.th.insert(t.th.end(), {"pg_lo", "pg_hi", "P(first)"});
    for (std::size_t i = 0; i < r.teachers.size(); ++i) {
        const auto& s = r.teachers[i];
        t.tr.push_back({std::to_string(i + 1), s.teacher, num(s.pg_score), num(s.pgr),
                        num(s.z_score), num(s.result), std::to_string(s.n_languages)});
        if (r.bootstrap > 0)
            t.tr.back().insert(t.tr.back().end(), {num(s.pg_lo), num(s.pg_hi), num(s.p_first, 3)});
    }
    t.ph = {"teacher_model"};
    t.ph.insert(t.ph.end(), r.languages.begin(), r.languages.end());
    for (const auto& s : r.teachers) {
        t.pr.push_back({s.teacher});
        for (const auto& l : r.languages) t.pr.back().push_back(num(r.pg_score(s.teacher, l)));
    }
    return t;
}

std::string to_markdown(const pg_ranking& r, bool per_language) {
    const auto t = tables(r, false);
    std::string lang_note;
    for (const auto& l : r.languages) lang_note += (lang_note.empty() ? "" : ", ") + l;
    std::string out = "## PG-Score rows (α = " + format_double(r.alpha) + ")\n\n" +
                      markdown_table(t.rh, t.rr) + "\n## Teacher ranking (mean over " + lang_note +
                      ")\n\n" + markdown_table(t.th, t.tr);
    if (r.bootstrap > 0)
        out += "\npg_lo/pg_hi: " + format_double(r.level * 100) + "% percentile interval over " +
               std::to_string(r.bootstrap) + " language resamples (seed " + std::to_string(r.seed) +
               "); P(first): share of resamples ranking the teacher first.\n";
    if (per_language) out += "\n## PG-Score per language\n\n" + markdown_table(t.ph, t.pr);
    if (!r.warnings.empty())
        out += "\n" + std::to_string(r.warnings.size()) + " warning(s) were printed to stderr.\n";
    return out;
}

}  // namespace

pg_inputs collect_pg_rows(const pgscore_options& o) {
    pg_inputs in;
    row_keys keys;
    keys.teacher = o.teacher_column;
    add_row_files(in.rows, o, keys);
    add_students(in.rows, o, keys);
    if (!o.report_files.empty()) add_zscores(in, o);
    return in;
}

void apply_anchors(pg_inputs& in, const pgscore_options& o) {
    std::map<std::string, anchor> anchors;
    if (!o.anchors_file.empty()) anchors = anchors_from_table(read_table(o.anchors_file));
    if (!o.base_files.empty())
        anchors = make_anchors(read_results(o.base_files), read_results(o.ref_files));
    if (o.anchors_file.empty() && o.base_files.empty()) return;
    std::vector<pg_row> sub;
    for (auto& r : in.rows)
        if (!std::isnan(r.result)) sub.push_back(r);
    auto given = sub;
    auto aw = compute_pgr(sub, anchors);
    if (o.refuse_bad_anchors && !aw.empty()) {
        std::string all;
        for (const auto& w : aw) all += "\n  " + w;
        throw numerical_error("anchors unusable (--refuse-bad-anchors):" + all);
    }
    in.warnings.insert(in.warnings.end(), aw.begin(), aw.end());
    for (std::size_t i = 0; i < sub.size(); ++i) {
        auto& r = find_or_add(in.rows, sub[i].teacher, sub[i].lang, sub[i].where);
        if (std::isfinite(given[i].pgr) && std::fabs(given[i].pgr - sub[i].pgr) > 1e-6)
            in.warnings.push_back(r.where + ": pgr " + format_double(given[i].pgr) +
                                  " replaced by " + format_double(sub[i].pgr) +
                                  " from the anchors");
        r.pgr = sub[i].pgr;
    }
}

double pg_ranking::pg_score(const std::string& teacher, const std::string& lang) const {
    for (const auto& r : rows)
        if (r.teacher == teacher && r.lang == lang) return r.pg_score;
    return nan_value;
}

pg_ranking rank_pg_rows(pg_inputs in, const pgscore_options& o) {
    if (in.rows.empty())
        throw argument_error("no input rows (give row files, reports or students)");
    pg_ranking res;
    res.alpha = o.alpha;
    res.bootstrap = o.bootstrap;
    res.seed = o.seed;
    res.level = o.level;
    res.warnings = std::move(in.warnings);
    auto rw = recompute_pg(in.rows, o.alpha);
    res.warnings.insert(res.warnings.end(), rw.begin(), rw.end());
    for (const auto& l : o.languages) {
        bool found = false;
        for (const auto& r : in.rows) found = found || r.lang == l;
        if (!found) throw argument_error("--languages: no row has language '" + l + "'");
    }
    res.rows = select_languages(in.rows, o.languages);
    res.teachers = rank_teachers(res.rows);
    auto cw = coverage_warnings(res.teachers);
    res.warnings.insert(res.warnings.end(), cw.begin(), cw.end());
    if (o.bootstrap > 0) bootstrap_teachers(res.teachers, res.rows, o.bootstrap, o.seed, o.level);
    for (const auto& r : res.rows) {
        if (std::isnan(r.pg_score))
            res.warnings.push_back(r.where + ": no pg_score (needs pgr and z_score, or pg_score)");
        if (std::find(res.languages.begin(), res.languages.end(), r.lang) == res.languages.end())
            res.languages.push_back(r.lang);
    }
    return res;
}

pg_ranking pgscore(const pgscore_options& o) {
    auto in = collect_pg_rows(o);
    apply_anchors(in, o);
    return rank_pg_rows(std::move(in), o);
}

std::string render(const pg_ranking& r, text_format f, bool per_language,
                   const std::string& csv_table_name) {
    if (f == text_format::json) return to_json(r, per_language);
    if (f == text_format::markdown) return to_markdown(r, per_language);
    const auto t = tables(r, true);
    if (csv_table_name.empty() || csv_table_name == "teachers") return csv_table(t.th, t.tr);
    if (csv_table_name == "rows") return csv_table(t.rh, t.rr);
    if (csv_table_name == "per-language") return csv_table(t.ph, t.pr);
    throw argument_error("--table must be teachers, rows or per-language");
}

report::heatmap_spec heatmap(const pg_ranking& r) {
    report::heatmap_spec h;
    h.title = r.alpha == 0.5 ? "PG-Score by teacher and language"
                             : "PG_" + format_double(r.alpha) + " by teacher and language";
    h.subtitle = "teachers sorted by mean PG-Score (last column)";
    for (const auto& t : r.teachers) h.row_labels.push_back(t.teacher);
    h.col_labels = r.languages;
    h.col_labels.push_back("mean");
    for (const auto& t : r.teachers) {
        std::vector<double> row;
        for (const auto& l : r.languages) row.push_back(r.pg_score(t.teacher, l));
        row.push_back(t.pg_score);
        h.values.push_back(row);
    }
    h.colorbar_label = "PG-Score";
    return h;
}

}  // namespace analysis
POLYGLOT_END_NAMESPACE
