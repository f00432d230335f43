// SPDX-License-Identifier: Apache-2.0
/// @file `polyglot pca` as a library call: the rows (one per teacher × language, from tables or
/// intrinsic reports, optionally inner-joined with a target table), the variance decomposition of
/// their features and the regressions of a target on the principal components
/// (stats/pca_regression.hpp, reference.md §9), with leave-one-out cross-validation; rendered as
/// markdown, CSV (the loadings), JSON (pca_results.json keys + additions), a loadings heatmap
/// and a predicted-vs-actual scatter plot.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/report/svg.hpp>
#include <polyglot/stats/pca_regression.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

/// The paper's six features: prompts/responses distinct-RI, average perplexity, rubric score,
/// prompts/responses average length.
const std::vector<std::string>& pca_paper_features();

struct pca_options {
    /// Tables (.csv/.tsv/.jsonl/.json) and intrinsic reports (.json), in order.
    std::vector<std::string> inputs;
    std::map<std::string, std::pair<std::string, std::string>> named;  ///< path → (teacher, lang)
    std::optional<std::vector<std::string>> features;  ///< nullopt = pca_paper_features()
    std::string target;  ///< column to regress on the components ("" = PCA only)
    std::string join;    ///< table to take the target from (inner join on teacher × language)
    std::vector<std::string> models{"linear", "ridge", "lasso", "quadratic"};
    double ridge_alpha = 1.0;
    double lasso_alpha = 0.1;
    long n_components = 0;  ///< 0 = all up to the numerical rank
    bool leave_one_out = true;
    bool dropna = false;  ///< drop rows with a missing feature/target instead of failing
    bool zscore = false;  ///< also the reference's intrinsic z-score over the rows
    std::string teacher_column = "teacher_model";
    std::string lang_column = "target_lang";
};

struct pca_analysis {
    std::vector<std::string> features;
    std::string target;
    std::string teacher_column, lang_column;
    bool leave_one_out = true;
    bool zscore = false;
    table rows;                                        ///< every input row
    std::optional<std::size_t> teacher_col, lang_col;  ///< in rows
    std::vector<std::size_t> used;                     ///< the rows analysed
    std::vector<double> y;                             ///< target per used row
    stats::pca_regression_result fit;
    /// "teacher|lang" → z in row order (with zscore).
    std::vector<std::pair<std::string, double>> z_scores;
    std::vector<std::string> warnings;

    /// The model with the best in-sample R² (nullptr without a target).
    [[nodiscard]] const stats::model_fit* best() const;
    /// "teacher|lang" of row @p i of rows.
    [[nodiscard]] std::string label(std::size_t i) const;
};

/// Reads the inputs, checks and selects the rows, and fits. @throws format_error naming the
/// file and row of a problem (duplicate rows, missing or non-numeric cells); argument_error for
/// an empty feature list or fewer than 3 usable rows.
pca_analysis analyze_pca(const pca_options& o);

/// Markdown (loadings, regressions, z-scores), CSV (the loadings) or JSON.
std::string render(const pca_analysis& a, text_format f);

/// The loadings heatmap.
report::heatmap_spec loadings_heatmap(const pca_analysis& a);

/// Predicted vs actual target of the best model, coloured by language (needs a target).
report::scatter_spec fit_scatter(const pca_analysis& a);

}  // namespace analysis
POLYGLOT_END_NAMESPACE
