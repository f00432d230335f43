// SPDX-License-Identifier: Apache-2.0
// PG-score rows, anchors and report tables from input files.
#include <polyglot/analysis/inputs.hpp>
#include <polyglot/core/error.hpp>
#include <set>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

std::vector<pg_row> pg_rows_from_table(const table& t, const row_keys& keys) {
    const std::size_t ct = t.require_column(keys.teacher);
    const std::size_t cl = t.require_column(keys.lang);
    auto opt = [&](const char* name) { return t.find_column(name); };
    auto c_res = opt("result"), c_se = opt("result_stderr"), c_pgr = opt("pgr"),
         c_z = opt("z_score"), c_pg = opt("pg_score");
    if (!c_res && !c_pgr && !c_z && !c_pg)
        throw format_error(t.source +
                           ": missing column 'pg_score' (a PG-score table needs pg_score, or "
                           "pgr and z_score, or result)");
    std::vector<pg_row> rows;
    std::map<std::pair<std::string, std::string>, std::string> seen;
    for (std::size_t i = 0; i < t.size(); ++i) {
        pg_row r;
        r.where = t.where(i);
        r.teacher = t.text(i, ct);
        r.lang = t.text(i, cl);
        if (r.teacher.empty())
            throw format_error(r.where + ": column '" + keys.teacher + "' is empty");
        if (r.lang.empty()) throw format_error(r.where + ": column '" + keys.lang + "' is empty");
        auto [it, fresh] = seen.emplace(std::make_pair(r.teacher, r.lang), r.where);
        if (!fresh)
            throw format_error(
                r.where + ": duplicate " + keys.teacher + " × " + keys.lang + " row ('" +
                r.teacher + "', '" + r.lang + "'); first at " + it->second +
                (keys.teacher == "teacher_model" ? " (rank by another column with --teacher-column)"
                                                 : ""));
        if (c_res) r.result = t.number_or_nan(i, *c_res);
        if (c_se) r.result_stderr = t.number_or_nan(i, *c_se);
        if (c_pgr) r.pgr = t.number_or_nan(i, *c_pgr);
        if (c_z) r.z_score = t.number_or_nan(i, *c_z);
        if (c_pg) r.pg_score_given = t.number_or_nan(i, *c_pg);
        rows.push_back(std::move(r));
    }
    return rows;
}

std::map<std::string, anchor> anchors_from_table(const table& t, const std::string& lang_column) {
    const std::size_t cl = t.require_column(lang_column);
    const std::size_t cb = t.require_column("base");
    const std::size_t cr = t.require_column("ref");
    auto cbs = t.find_column("base_stderr"), crs = t.find_column("ref_stderr");
    std::map<std::string, anchor> out;
    std::map<std::string, std::string> where;
    for (std::size_t i = 0; i < t.size(); ++i) {
        std::string lang = t.text(i, cl);
        anchor a;
        a.base = t.number(i, cb);
        a.ref = t.number(i, cr);
        if (cbs) a.base_stderr = t.number_or_nan(i, *cbs);
        if (crs) a.ref_stderr = t.number_or_nan(i, *crs);
        if (!out.emplace(lang, a).second)
            throw format_error(t.where(i) + ": duplicate anchors for language '" + lang +
                               "'; first at " + where[lang]);
        where[lang] = t.where(i);
    }
    return out;
}

std::map<std::string, std::pair<double, double>> results_by_language(
    const table& t, const std::string& lang_column) {
    const std::size_t cl = t.require_column(lang_column);
    const std::size_t cr = t.require_column("result");
    auto cs = t.find_column("result_stderr");
    std::map<std::string, std::pair<double, double>> out;
    std::map<std::string, std::string> where;
    for (std::size_t i = 0; i < t.size(); ++i) {
        std::string lang = t.text(i, cl);
        double v = t.number(i, cr);
        double se = cs ? t.number_or_nan(i, *cs) : nan_value;
        if (!out.emplace(lang, std::make_pair(v, se)).second)
            throw format_error(t.where(i) + ": duplicate result for language '" + lang +
                               "'; first at " + where[lang]);
        where[lang] = t.where(i);
    }
    return out;
}

std::map<std::string, std::pair<double, double>> results_by_language(
    const lighteval_results& r, const std::string& default_lang) {
    std::map<std::string, std::pair<double, double>> out;
    for (const auto& lang : r.languages()) out[lang] = r.average(lang);
    if (!default_lang.empty() && !out.count(default_lang)) {
        // tasks without a language code (e.g. FilBench's belebele_ceb_mcf) count for it
        lighteval_results unlabeled = r;
        std::erase_if(unlabeled.tasks, [](const task_score& t) { return !t.lang.empty(); });
        auto avg = unlabeled.average();
        if (std::isnan(avg.first))
            throw format_error(r.source + ": no task for language '" + default_lang +
                               "' (languages in the file: " +
                               [&] {
                                   std::string s;
                                   for (const auto& l : r.languages())
                                       s += (s.empty() ? "" : ", ") + l;
                                   return s.empty() ? std::string("none") : s;
                               }() +
                               ")");
        out[default_lang] = avg;
    }
    return out;
}

std::map<std::string, anchor> make_anchors(
    const std::map<std::string, std::pair<double, double>>& base,
    const std::map<std::string, std::pair<double, double>>& ref) {
    std::map<std::string, anchor> out;
    for (const auto& [lang, b] : base) {
        auto it = ref.find(lang);
        if (it == ref.end()) continue;
        anchor a;
        a.base = b.first;
        a.base_stderr = b.second;
        a.ref = it->second.first;
        a.ref_stderr = it->second.second;
        out[lang] = a;
    }
    return out;
}

std::vector<std::string> compute_pgr(std::vector<pg_row>& rows,
                                     const std::map<std::string, anchor>& anchors) {
    std::set<std::string> used;
    for (auto& r : rows) {
        auto it = anchors.find(r.lang);
        if (it == anchors.end()) {
            std::string have;
            for (const auto& [l, a] : anchors) have += (have.empty() ? "" : ", ") + l;
            throw format_error(
                r.where + ": column 'target_lang': language '" + r.lang +
                "' has no anchors (base/ref given for: " + (have.empty() ? "none" : have) + ")");
        }
        if (std::isnan(r.result))
            throw format_error(r.where + ": column 'result' is missing, so PGR cannot be computed");
        r.pgr = pgr(r.result, it->second);
        used.insert(r.lang);
    }
    std::vector<std::string> warnings;
    for (const auto& lang : used)
        if (auto w = check_anchor(lang, anchors.at(lang))) warnings.push_back(*w);
    return warnings;
}

std::vector<intrinsic_report> load_reports(
    const std::vector<std::string>& paths,
    const std::map<std::string, std::pair<std::string, std::string>>& named) {
    std::vector<intrinsic_report> out;
    std::map<std::pair<std::string, std::string>, std::string> seen;
    for (const auto& p : paths) {
        std::string teacher, lang;
        if (auto it = named.find(p); it != named.end()) std::tie(teacher, lang) = it->second;
        out.push_back(read_intrinsic_report(p, teacher, lang));
        auto [it, fresh] = seen.emplace(std::make_pair(out.back().teacher, out.back().lang), p);
        if (!fresh)
            throw format_error(p + ": duplicate teacher × language ('" + out.back().teacher +
                               "', '" + out.back().lang + "'); also in " + it->second);
    }
    return out;
}

table reports_to_table(const std::vector<intrinsic_report>& reports) {
    table t;
    t.source = "reports";
    t.columns = {"teacher_model", "target_lang"};
    // leaf names that occur under two different dotted paths keep the dotted path
    std::map<std::string, std::set<std::string>> paths_of_leaf;
    for (const auto& r : reports)
        for (const auto& [k, v] : r.values) {
            auto dot = k.rfind('.');
            paths_of_leaf[dot == std::string::npos ? k : k.substr(dot + 1)].insert(k);
        }
    for (const auto& r : reports) {
        std::vector<cell> row(t.columns.size());
        row[0] = r.teacher;
        row[1] = r.lang;
        for (const auto& [k, v] : r.values) {
            auto dot = k.rfind('.');
            std::string leaf = dot == std::string::npos ? k : k.substr(dot + 1);
            std::string name = paths_of_leaf[leaf].size() == 1 ? leaf : k;
            std::size_t c = t.find_column(name).value_or(t.columns.size());
            if (c == t.columns.size()) {
                c = t.add_column(name);
                row.emplace_back();
            }
            row[c] = v;
        }
        t.rows.push_back(std::move(row));
        t.lines.push_back(0);
        t.row_sources.push_back(r.source);
    }
    return t;
}

}  // namespace analysis
POLYGLOT_END_NAMESPACE
