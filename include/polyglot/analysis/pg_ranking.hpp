// SPDX-License-Identifier: Apache-2.0
/// @file `polyglot pgscore` as a library call: PG-Score rows (teacher × language) gathered from
/// ready rows, student results, intrinsic reports (z-scores over a pool) and anchors (PGR), and
/// the teacher ranking over them; rendered as markdown, CSV, JSON or a heatmap. The formulas
/// are in pgscore.hpp. Three phases — collect_pg_rows, apply_anchors, rank_pg_rows — so that a
/// caller can save the fitted z-score pool before the anchors are checked; pgscore() runs all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/report/svg.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

/// One student's results for one language (the CLI's `--student TEACHER:LANG=FILE`).
struct student_file {
    std::string teacher, lang, file;
};

struct pgscore_options {
    // ---- rows
    std::vector<std::string> row_files;            ///< ready PG-score rows (.jsonl/.csv/.json)
    std::string teacher_column = "teacher_model";  ///< column naming the teacher in row files
    /// Student results: tables with teacher_model, target_lang, result[, result_stderr].
    std::vector<std::string> student_tables;
    /// One student's lighteval results (or table) for one language each.
    std::vector<student_file> students;
    // ---- intrinsic z-scores
    std::vector<std::string> report_files;
    std::map<std::string, std::pair<std::string, std::string>> named;  ///< path → (teacher, lang)
    std::string load_pool;  ///< score the reports against this saved pool ("" = fit one)
    pool_kind pool = pool_kind::global;
    std::map<std::string, double> weights;  ///< z feature weights (default all 1)
    // ---- anchors and PGR
    std::string anchors_file;  ///< table with target_lang, base, ref[, base_stderr, ref_stderr]
    /// Base / reference results: lighteval JSON or tables; "LANG=FILE" makes a lighteval file's
    /// language-less tasks count for LANG.
    std::vector<std::string> base_files, ref_files;
    bool refuse_bad_anchors = false;  ///< fail instead of warning on an unusable anchor gap
    // ---- ranking
    double alpha = 0.5;                  ///< PG_α = α·z + (1−α)·PGR
    std::vector<std::string> languages;  ///< rank over these ("" = all)
    std::size_t bootstrap = 0;           ///< language-bootstrap replicates (0 = off)
    std::uint64_t seed = 42;
    double level = 0.95;
};

/// The rows gathered so far, with the pool the reports were scored against.
struct pg_inputs {
    std::vector<pg_row> rows;
    std::optional<zscore_pool> pool;  ///< fitted or loaded (when there were reports)
    std::vector<std::string> warnings;
};

/// Phase 1: ready rows, student results and the reports' z-scores.
/// @throws format_error, argument_error naming the file and row of a problem.
pg_inputs collect_pg_rows(const pgscore_options& o);

/// Phase 2: PGR of the rows with a result, from o.anchors_file or o.base_files / o.ref_files
/// (nothing to do without them). @throws numerical_error for unusable anchors when
/// o.refuse_bad_anchors; format_error for a language without anchors.
void apply_anchors(pg_inputs& in, const pgscore_options& o);

/// PG-Score rows and the teacher ranking.
struct pg_ranking {
    double alpha = 0.5;
    std::vector<pg_row> rows;            ///< in the selected languages
    std::vector<std::string> languages;  ///< of the rows, in first-seen order
    std::vector<teacher_summary> teachers;
    std::size_t bootstrap = 0;
    std::uint64_t seed = 42;
    double level = 0.95;
    std::vector<std::string> warnings;  ///< of every phase

    /// The PG-Score of @p teacher in @p lang (NaN when there is no such row).
    [[nodiscard]] double pg_score(const std::string& teacher, const std::string& lang) const;
};

/// Phase 3: PG_α per row, the selected languages, the ranking (and bootstrap intervals).
/// @throws argument_error when there are no rows or a language has none.
pg_ranking rank_pg_rows(pg_inputs in, const pgscore_options& o);

/// The three phases at once.
pg_ranking pgscore(const pgscore_options& o);

/// Text forms: markdown (rows, ranking, optionally the teacher × language table), JSON, or CSV
/// of one table: @p csv_table "teachers" (or ""), "rows" or "per-language".
/// @throws argument_error for another @p csv_table.
std::string render(const pg_ranking& r, text_format f, bool per_language = false,
                   const std::string& csv_table = {});

/// The teacher × language PG-Score heatmap (teachers by rank, their mean in the last column).
report::heatmap_spec heatmap(const pg_ranking& r);

}  // namespace analysis
POLYGLOT_END_NAMESPACE
