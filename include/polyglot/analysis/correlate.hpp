// SPDX-License-Identifier: Apache-2.0
/// @file `polyglot correlate` as a library call: Spearman ρ between the teacher rankings of
/// several PG-score tables (per table, the mean of a value per teacher over a set of languages;
/// every pair over the teachers both have), and the PG_α robustness matrix of one table
/// (reference.md §10.2); rendered as markdown, CSV, JSON or a lower-triangle heatmap.
#pragma once

#include <cstddef>
#include <map>
#include <polyglot/analysis/format.hpp>
#include <polyglot/report/svg.hpp>
#include <polyglot/stats/spearman.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

struct ranking_options {
    std::string by = "teacher_model";  ///< grouping column (the ranked entities)
    std::string value = "pg_score";    ///< column to average and rank
    std::string lang_column = "target_lang";
    /// Comma-separated languages to average over ("" = all); titles show it as given.
    std::string languages;
};

/// One ranked table: the mean of the value per group.
struct ranking_input {
    std::string name, file;
    std::map<std::string, double> means;  ///< group → mean value
};

/// Mean of o.value per o.by over the rows in o.languages (all when empty); NaN cells skipped.
/// @throws format_error for duplicate group × language rows or no finite value.
ranking_input group_means(const std::string& name, const std::string& file,
                          const ranking_options& o);

struct ranking_pair {
    std::size_t a = 0, b = 0;  ///< indices into inputs
    stats::spearman_result s;
};

struct ranking_correlations {
    ranking_options options;
    std::vector<ranking_input> inputs;
    std::vector<ranking_pair> pairs;  ///< every a < b
    std::vector<std::string> warnings;
};

/// Spearman ρ between the rankings of @p files ((name, path) pairs), pair by pair over the
/// groups both have (the others are left out with a warning).
ranking_correlations correlate_rankings(
    const std::vector<std::pair<std::string, std::string>>& files, const ranking_options& o);

std::string render(const ranking_correlations& r, text_format f);
report::heatmap_spec heatmap(const ranking_correlations& r);

/// PG_α = α·z + (1−α)·PGR per row for each α, and Spearman ρ between every pair of α.
struct alpha_robustness {
    std::string file;
    std::size_t n = 0;  ///< rows used
    std::vector<double> alphas;
    std::vector<std::vector<double>> rho, p;  ///< alphas × alphas (p = 0 on the diagonal)
    stats::spearman_result z_vs_pgr;
};

/// The PG_α robustness of the PG-score table @p file over @p languages (all when empty).
/// @throws format_error for a row without pgr or z_score; argument_error for fewer than 3 rows.
alpha_robustness pg_alpha_robustness(const std::string& file, const std::vector<double>& alphas,
                                     const std::vector<std::string>& languages = {});

std::string render(const alpha_robustness& r, text_format f);
report::heatmap_spec heatmap(const alpha_robustness& r);

}  // namespace analysis
POLYGLOT_END_NAMESPACE
