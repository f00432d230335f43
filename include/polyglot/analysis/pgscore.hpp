// SPDX-License-Identifier: Apache-2.0
/// @file Polyglot Score: intrinsic z-scores, PGR, PG-Score / PG_α and teacher rankings
/// (product.md §4, reference.md §5–§7). Reference-compatible by default:
/// - z: columns prompts_distinct_ri, responses_distinct_ri, average_rubric_score (when present),
///   −log1p(average_perplexity), each standardized over the pool (ddof 0, StandardScaler), z =
///   (weighted) mean of the standardized columns; NaN when any used column is NaN;
/// - PGR = (student − base) / (ref − base) per language;
/// - PG_α = α·z + (1 − α)·PGR, PG-Score = PG_0.5 = (PGR + z)/2;
/// - teacher value = mean over its languages (NaN cells skipped, as pandas).
/// Beyond the reference: per-language pools, weights, saved/loaded pools, anchor checks,
/// language-bootstrap intervals.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <polyglot/json/value.hpp>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/stats/bootstrap.hpp>
#include <polyglot/stats/standardize.hpp>
#include <polyglot/version.hpp>
#include <set>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

// ---------------------------------------------------------------------------------------------
// Intrinsic z-score

/// The z-score features, in the reference's order. "neg_log1p_perplexity" = −ln(1 + ppl).
inline const std::vector<std::string>& default_z_features() {
    static const std::vector<std::string> f{"prompts_distinct_ri", "responses_distinct_ri",
                                            "average_rubric_score", "neg_log1p_perplexity"};
    return f;
}

/// Value of a z-score feature for a report (NaN when absent).
inline double z_feature_value(const intrinsic_report& r, const std::string& feature) {
    if (feature == "neg_log1p_perplexity" || feature == "perplexity") {
        double p = r.get("average_perplexity");
        return std::isnan(p) ? nan_value : -std::log1p(p);
    }
    return r.get(feature);
}

enum class pool_kind { global, per_language };

/// A fitted pool: per-group column means and scales (group "*" for a global pool).
struct zscore_pool {
    pool_kind kind = pool_kind::global;
    std::vector<std::string> features;
    std::vector<double> weights;  ///< normalised to sum 1
    struct group {
        std::vector<double> mean, scale;
        std::size_t n = 0;
    };
    std::map<std::string, group> groups;
};

struct zscore_options {
    pool_kind pool = pool_kind::global;
    std::vector<std::string> features;      ///< empty = default_z_features()
    std::map<std::string, double> weights;  ///< feature → weight; missing = 1
};

struct zscore_result {
    std::vector<double> z;  ///< one per input row
    zscore_pool pool;
    std::vector<std::string> warnings;
};

namespace detail {
inline zscore_pool::group fit_group(const std::vector<std::vector<double>>& cols,
                                    const std::vector<std::size_t>& rows,
                                    const std::vector<std::string>& names,
                                    const std::string& group_name,
                                    std::vector<std::string>& warnings) {
    Eigen::MatrixXd x(static_cast<Eigen::Index>(rows.size()),
                      static_cast<Eigen::Index>(cols.size()));
    for (std::size_t j = 0; j < cols.size(); ++j)
        for (std::size_t i = 0; i < rows.size(); ++i)
            x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = cols[j][rows[i]];
    stats::scaler s;
    try {
        s = stats::fit_scaler(x, names);
    } catch (const numerical_error& e) {
        throw numerical_error("z-score pool " + group_name + ": " + e.what());
    }
    zscore_pool::group g;
    g.n = rows.size();
    for (std::size_t j = 0; j < cols.size(); ++j) {
        g.mean.push_back(s.mean[static_cast<Eigen::Index>(j)]);
        g.scale.push_back(s.scale[static_cast<Eigen::Index>(j)]);
        if (s.constant[j])
            warnings.push_back("z-score pool " + group_name + ": feature '" + names[j] +
                               "' is constant over the pool; its standardized value is 0 for "
                               "every row (as sklearn's StandardScaler)");
    }
    return g;
}
}  // namespace detail

/// Applies a fitted pool to reports. Rows whose language has no group (per-language pools)
/// throw argument_error naming the language.
inline std::vector<double> apply_zscore_pool(const zscore_pool& pool,
                                             const std::vector<intrinsic_report>& reports) {
    std::vector<double> z;
    z.reserve(reports.size());
    for (const auto& r : reports) {
        std::string key = pool.kind == pool_kind::global ? "*" : r.lang;
        auto it = pool.groups.find(key);
        if (it == pool.groups.end())
            throw argument_error("z-score pool has no language '" + r.lang + "' (needed by " +
                                 r.source + ")");
        double acc = 0;
        for (std::size_t j = 0; j < pool.features.size(); ++j) {
            double v = z_feature_value(r, pool.features[j]);
            acc += pool.weights[j] * (v - it->second.mean[j]) / it->second.scale[j];
        }
        z.push_back(acc);
    }
    return z;
}

/// Fits the pool on @p reports and returns every row's z.
/// average_rubric_score is dropped (with a warning) when no report has it, as the reference's
/// "when present"; any other feature missing from every report is an error.
inline zscore_result compute_zscores(const std::vector<intrinsic_report>& reports,
                                     const zscore_options& opt = {}) {
    if (reports.empty()) throw argument_error("z-score: no intrinsic reports given");
    zscore_result out;
    std::vector<std::string> features = opt.features.empty() ? default_z_features() : opt.features;
    std::vector<std::vector<double>> cols;
    std::vector<std::string> kept;
    for (const auto& f : features) {
        std::vector<double> col;
        bool any = false;
        for (const auto& r : reports) {
            col.push_back(z_feature_value(r, f));
            any = any || !std::isnan(col.back());
        }
        if (!any) {
            if (f == "average_rubric_score" && opt.features.empty()) {
                out.warnings.push_back(
                    "z-score: no report has reward_model.average_rubric_score; z uses the other "
                    "features only");
                continue;
            }
            throw format_error("z-score: feature '" + f +
                               "' is missing from every report (first: " + reports.front().source +
                               ")");
        }
        for (std::size_t i = 0; i < reports.size(); ++i)
            if (std::isnan(col[i]))
                out.warnings.push_back("z-score: " + reports[i].source + " (" + reports[i].teacher +
                                       ", " + reports[i].lang + ") has no '" + f +
                                       "'; its z is NaN");
        cols.push_back(std::move(col));
        kept.push_back(f);
    }
    for (const auto& [k, w] : opt.weights)
        if (std::find(kept.begin(), kept.end(), k) == kept.end() &&
            !(k == "perplexity" &&
              std::find(kept.begin(), kept.end(), "neg_log1p_perplexity") != kept.end()))
            throw argument_error("--weights: unknown feature '" + k + "' (features: " + [&] {
                std::string s;
                for (const auto& f : kept) s += (s.empty() ? "" : ", ") + f;
                return s;
            }() + ")");
    out.pool.kind = opt.pool;
    out.pool.features = kept;
    double wsum = 0;
    for (const auto& f : kept) {
        double w = 1.0;
        if (auto it = opt.weights.find(f); it != opt.weights.end())
            w = it->second;
        else if (f == "neg_log1p_perplexity")
            if (auto it2 = opt.weights.find("perplexity"); it2 != opt.weights.end())
                w = it2->second;
        if (!(w >= 0)) throw argument_error("--weights: weight of '" + f + "' must be >= 0");
        out.pool.weights.push_back(w);
        wsum += w;
    }
    if (!(wsum > 0)) throw argument_error("--weights: weights sum to 0");
    for (auto& w : out.pool.weights) w /= wsum;

    std::map<std::string, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < reports.size(); ++i)
        groups[opt.pool == pool_kind::global ? "*" : reports[i].lang].push_back(i);
    for (const auto& [name, rows] : groups) {
        std::string label = name == "*" ? "(all rows)" : "'" + name + "'";
        if (rows.size() < 2)
            out.warnings.push_back("z-score pool " + label + " has a single row: its z is 0");
        out.pool.groups[name] = detail::fit_group(cols, rows, kept, label, out.warnings);
    }
    out.z = apply_zscore_pool(out.pool, reports);
    return out;
}

/// Serialises a pool ("polyglot-zscore-pool/1").
inline std::string zscore_pool_to_json(const zscore_pool& p) {
    io::json_writer w(2);
    w.begin_object();
    w.kv("format", "polyglot-zscore-pool/1");
    w.kv("pool", p.kind == pool_kind::global ? "global" : "per-language");
    w.key("features").begin_array();
    for (const auto& f : p.features) w.value(f);
    w.end_array();
    w.key("weights").begin_array();
    for (double x : p.weights) w.value(x);
    w.end_array();
    w.key("groups").begin_object();
    for (const auto& [name, g] : p.groups) {
        w.key(name).begin_object();
        w.kv("n", g.n);
        w.key("mean").begin_array();
        for (double x : g.mean) w.value(x);
        w.end_array();
        w.key("scale").begin_array();
        for (double x : g.scale) w.value(x);
        w.end_array();
        w.end_object();
    }
    w.end_object();
    w.end_object();
    return w.take() + "\n";
}

/// Parses a saved pool. @throws format_error naming @p source.
inline zscore_pool zscore_pool_from_json(const json_value& v, const std::string& source) {
    auto bad = [&](const std::string& what) {
        return format_error(source + ": not a polyglot z-score pool: " + what);
    };
    const json_value* fmt = v.find("format");
    if (!fmt || !fmt->is_string() || fmt->as_string() != "polyglot-zscore-pool/1")
        throw bad("\"format\" is not \"polyglot-zscore-pool/1\"");
    zscore_pool p;
    const json_value* kind = v.find("pool");
    if (!kind || !kind->is_string()) throw bad("missing \"pool\"");
    if (kind->as_string() == "global")
        p.kind = pool_kind::global;
    else if (kind->as_string() == "per-language")
        p.kind = pool_kind::per_language;
    else
        throw bad("unknown pool '" + kind->as_string() + "'");
    auto numbers = [&](const json_value* a, const std::string& what) {
        if (!a || !a->is_array()) throw bad("missing array \"" + what + "\"");
        std::vector<double> out;
        for (const auto& x : a->as_array()) {
            if (!x.is_number()) throw bad("\"" + what + "\" has a non-number");
            out.push_back(x.as_number());
        }
        return out;
    };
    const json_value* feats = v.find("features");
    if (!feats || !feats->is_array()) throw bad("missing \"features\"");
    for (const auto& f : feats->as_array()) {
        if (!f.is_string()) throw bad("\"features\" has a non-string");
        p.features.push_back(f.as_string());
    }
    p.weights = numbers(v.find("weights"), "weights");
    if (p.weights.size() != p.features.size()) throw bad("weights and features differ in length");
    const json_value* groups = v.find("groups");
    if (!groups || !groups->is_object() || groups->as_object().empty()) throw bad("no \"groups\"");
    for (const auto& m : groups->as_object()) {
        zscore_pool::group g;
        g.mean = numbers(m.value.find("mean"), "groups." + m.key + ".mean");
        g.scale = numbers(m.value.find("scale"), "groups." + m.key + ".scale");
        if (g.mean.size() != p.features.size() || g.scale.size() != p.features.size())
            throw bad("group '" + m.key + "' has the wrong number of columns");
        for (double s : g.scale)
            if (!(s > 0)) throw bad("group '" + m.key + "' has a non-positive scale");
        if (const json_value* n = m.value.find("n"); n && n->is_number())
            g.n = static_cast<std::size_t>(n->as_number());
        p.groups[m.key] = std::move(g);
    }
    return p;
}

// ---------------------------------------------------------------------------------------------
// PGR and anchors

/// Base and reference anchor results for one language (+ standard errors when known).
struct anchor {
    double base = nan_value, ref = nan_value;
    double base_stderr = nan_value, ref_stderr = nan_value;
};

/// A warning when ref − base ≤ 0 or smaller than twice the combined standard error
/// sqrt(σ_base² + σ_ref²); nullopt when the anchors look usable.
inline std::optional<std::string> check_anchor(const std::string& lang, const anchor& a) {
    const double gap = a.ref - a.base;
    auto num = [](double v) { return format_double(std::round(v * 1e6) / 1e6); };
    if (!(gap > 0))
        return "WARNING: language '" + lang + "': ref − base = " + num(a.ref) + " − " +
               num(a.base) + " = " + num(gap) +
               " ≤ 0: PGR is inverted there (a better student gets a LOWER PGR)";
    double se = std::sqrt(a.base_stderr * a.base_stderr + a.ref_stderr * a.ref_stderr);
    if (std::isfinite(se) && gap < 2 * se)
        return "WARNING: language '" + lang + "': ref − base = " + num(gap) +
               " is within twice the combined stderr (2 × " + num(se) + " = " + num(2 * se) +
               "): PGR there is mostly noise";
    return std::nullopt;
}

/// PGR = (student − base) / (ref − base).
inline double pgr(double student, const anchor& a) { return (student - a.base) / (a.ref - a.base); }

/// PG_α = α·z + (1 − α)·PGR (α = 0.5 is the PG-Score).
inline double pg_alpha(double z, double pgr_value, double alpha) {
    return alpha * z + (1.0 - alpha) * pgr_value;
}

// ---------------------------------------------------------------------------------------------
// Rows and rankings

/// One teacher × language row.
struct pg_row {
    std::string teacher, lang;
    double result = nan_value, result_stderr = nan_value, pgr = nan_value, z_score = nan_value,
           pg_score = nan_value;
    double pg_score_given = nan_value;  ///< pg_score read from the input (NaN when absent)
    std::string pg_source;              ///< "recomputed" or "input"
    std::string where;                  ///< "file:line" of the row
};

/// Recomputes pg_score = PG_α(z, pgr) where both are finite; keeps the input pg_score otherwise.
/// Returns warnings for rows whose input pg_score differs from the recomputation by > 1e-9.
inline std::vector<std::string> recompute_pg(std::vector<pg_row>& rows, double alpha = 0.5) {
    std::vector<std::string> warnings;
    for (auto& r : rows) {
        if (std::isfinite(r.pgr) && std::isfinite(r.z_score)) {
            r.pg_score = pg_alpha(r.z_score, r.pgr, alpha);
            r.pg_source = "recomputed";
            if (std::isfinite(r.pg_score_given) && std::fabs(r.pg_score_given - r.pg_score) > 1e-9)
                warnings.push_back(r.where + ": pg_score in the input (" +
                                   format_double(r.pg_score_given) + ") differs from " +
                                   (alpha == 0.5 ? std::string("(pgr + z_score)/2")
                                                 : "PG_" + format_double(alpha)) +
                                   " = " + format_double(r.pg_score));
        } else {
            r.pg_score = r.pg_score_given;
            r.pg_source = std::isfinite(r.pg_score_given) ? "input" : "";
        }
    }
    return warnings;
}

/// Per-teacher means over languages.
struct teacher_summary {
    std::string teacher;
    double pg_score = nan_value, pgr = nan_value, z_score = nan_value, result = nan_value;
    std::size_t n_languages = 0;
    std::vector<std::string> languages;
    double pg_lo = nan_value, pg_hi = nan_value, pg_se = nan_value;  ///< bootstrap (when requested)
    double p_first = nan_value;  ///< bootstrap share ranked first
};

namespace detail {
inline double nanmean(const std::vector<double>& v) {
    double s = 0;
    std::size_t k = 0;
    for (double x : v)
        if (!std::isnan(x)) s += x, ++k;
    return k ? s / static_cast<double>(k) : nan_value;
}
inline void sort_summaries(std::vector<teacher_summary>& t) {
    std::stable_sort(t.begin(), t.end(), [](const teacher_summary& a, const teacher_summary& b) {
        bool an = std::isnan(a.pg_score), bn = std::isnan(b.pg_score);
        if (an != bn) return bn;
        if (!an && a.pg_score != b.pg_score) return a.pg_score > b.pg_score;
        return a.teacher < b.teacher;
    });
}
}  // namespace detail

/// Rows restricted to @p languages (empty = all), in input order.
inline std::vector<pg_row> select_languages(const std::vector<pg_row>& rows,
                                            const std::vector<std::string>& languages) {
    if (languages.empty()) return rows;
    std::vector<pg_row> out;
    for (const auto& r : rows)
        if (std::find(languages.begin(), languages.end(), r.lang) != languages.end())
            out.push_back(r);
    return out;
}

/// Teacher ranking: means of pg_score, pgr, z_score and result over each teacher's rows
/// (in @p languages when non-empty), sorted by pg_score descending (NaN last, then by name).
inline std::vector<teacher_summary> rank_teachers(const std::vector<pg_row>& rows,
                                                  const std::vector<std::string>& languages = {}) {
    std::vector<std::string> order;
    std::map<std::string, std::vector<const pg_row*>> by;
    for (const auto& r : rows) {
        if (!languages.empty() &&
            std::find(languages.begin(), languages.end(), r.lang) == languages.end())
            continue;
        if (!by.count(r.teacher)) order.push_back(r.teacher);
        by[r.teacher].push_back(&r);
    }
    std::vector<teacher_summary> out;
    for (const auto& t : order) {
        teacher_summary s;
        s.teacher = t;
        std::vector<double> pg, pr, z, res;
        for (const auto* r : by[t]) {
            pg.push_back(r->pg_score);
            pr.push_back(r->pgr);
            z.push_back(r->z_score);
            res.push_back(r->result);
            s.languages.push_back(r->lang);
        }
        s.n_languages = by[t].size();
        s.pg_score = detail::nanmean(pg);
        s.pgr = detail::nanmean(pr);
        s.z_score = detail::nanmean(z);
        s.result = detail::nanmean(res);
        out.push_back(std::move(s));
    }
    detail::sort_summaries(out);
    return out;
}

/// Warnings for teachers that lack some of the languages the others have (their means are then
/// over different language sets and not comparable).
inline std::vector<std::string> coverage_warnings(const std::vector<teacher_summary>& t) {
    std::set<std::string> all;
    for (const auto& s : t) all.insert(s.languages.begin(), s.languages.end());
    std::vector<std::string> out;
    for (const auto& s : t) {
        std::string missing;
        for (const auto& l : all)
            if (std::find(s.languages.begin(), s.languages.end(), l) == s.languages.end())
                missing += (missing.empty() ? "" : ",") + l;
        if (!missing.empty())
            out.push_back("WARNING: teacher '" + s.teacher + "' has no row for " + missing +
                          ": its mean is over fewer languages than the others'");
    }
    return out;
}

/// Language bootstrap: resample the set of languages with replacement (the same draw for every
/// teacher), recompute each teacher's mean pg_score; fills pg_lo / pg_hi (percentile interval at
/// @p level), pg_se and p_first (share of replicates where the teacher ranks first).
inline void bootstrap_teachers(std::vector<teacher_summary>& ranking,
                               const std::vector<pg_row>& rows, std::size_t replicates,
                               std::uint64_t seed, double level = 0.95) {
    std::vector<std::string> langs;
    for (const auto& r : rows)
        if (std::find(langs.begin(), langs.end(), r.lang) == langs.end()) langs.push_back(r.lang);
    std::map<std::pair<std::string, std::string>, double> cell;
    for (const auto& r : rows) cell[{r.teacher, r.lang}] = r.pg_score;
    std::vector<std::vector<double>> reps(ranking.size());
    std::vector<std::size_t> first(ranking.size(), 0);
    stats::bootstrap_indices(langs.size(), replicates, seed, [&](const auto& idx) {
        double best = -std::numeric_limits<double>::infinity();
        std::size_t best_i = ranking.size();
        for (std::size_t t = 0; t < ranking.size(); ++t) {
            double s = 0;
            std::size_t k = 0;
            for (auto li : idx) {
                auto it = cell.find({ranking[t].teacher, langs[li]});
                if (it == cell.end() || std::isnan(it->second)) continue;
                s += it->second;
                ++k;
            }
            double m = k ? s / static_cast<double>(k) : nan_value;
            reps[t].push_back(m);
            if (!std::isnan(m) && m > best) best = m, best_i = t;
        }
        if (best_i < ranking.size()) ++first[best_i];
    });
    for (std::size_t t = 0; t < ranking.size(); ++t) {
        auto iv = stats::percentile_interval(reps[t], level);
        ranking[t].pg_lo = iv.lo;
        ranking[t].pg_hi = iv.hi;
        ranking[t].pg_se = iv.se;
        ranking[t].p_first = static_cast<double>(first[t]) / static_cast<double>(replicates);
    }
}

}  // namespace analysis
POLYGLOT_END_NAMESPACE
