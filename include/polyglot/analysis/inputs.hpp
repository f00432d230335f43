// SPDX-License-Identifier: Apache-2.0
/// @file Turning input tables into PG-score rows, anchors and feature matrices, with checks that
/// name the file, row and column of every problem.
#pragma once

#include <map>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

struct row_keys {
    std::string teacher = "teacher_model";  ///< column naming the teacher (or any grouping)
    std::string lang = "target_lang";
};

/// PG-score rows from a table with columns teacher_model, target_lang and any of result,
/// result_stderr, pgr, z_score, pg_score. @throws format_error for a missing key column, a table
/// with none of the value columns, non-numeric cells, or duplicate teacher × language rows.
std::vector<pg_row> pg_rows_from_table(const table& t, const row_keys& keys = {});

/// Anchors from a table with columns target_lang, base, ref [, base_stderr, ref_stderr].
/// @throws format_error for missing columns, non-numeric cells or a repeated language.
std::map<std::string, anchor> anchors_from_table(const table& t,
                                                 const std::string& lang_column = "target_lang");

/// Per-language result (mean of the language's task scores) and stderr (sqrt(Σσ²)/k) from
/// student/anchor rows: a table with target_lang, result [, result_stderr] (one row per language).
std::map<std::string, std::pair<double, double>> results_by_language(
    const table& t, const std::string& lang_column = "target_lang");

/// Per-language results of a lighteval file. Tasks whose key carries no language count for
/// @p default_lang when given (a student file for one language), else they are ignored.
std::map<std::string, std::pair<double, double>> results_by_language(
    const lighteval_results& r, const std::string& default_lang = {});

/// Anchors from base and reference per-language results; a language in only one of them is
/// left out (and reported by compute_pgr when needed).
std::map<std::string, anchor> make_anchors(
    const std::map<std::string, std::pair<double, double>>& base,
    const std::map<std::string, std::pair<double, double>>& ref);

/// Fills row.pgr from row.result and the anchors. @throws format_error naming the row when its
/// language has no anchors or its result is missing. Returns the anchor warnings (one per
/// language used).
std::vector<std::string> compute_pgr(std::vector<pg_row>& rows,
                                     const std::map<std::string, anchor>& anchors);

/// Loads intrinsic reports; @p named maps a path to (teacher, lang) overrides (--name).
std::vector<intrinsic_report> load_reports(
    const std::vector<std::string>& paths,
    const std::map<std::string, std::pair<std::string, std::string>>& named = {});

/// A reports set as a table: teacher_model, target_lang, then every numeric leaf (by leaf name;
/// dotted paths where two sections share a leaf name). @throws format_error on duplicates.
table reports_to_table(const std::vector<intrinsic_report>& reports);

}  // namespace analysis
POLYGLOT_END_NAMESPACE
