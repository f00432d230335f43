// SPDX-License-Identifier: Apache-2.0
/// @file Readers for intrinsic-metric reports and lighteval results.
///
/// Intrinsic reports: ours (`polyglot score`, product.md §3: sections length, lexical, language,
/// distinct_ri, perplexity, reward_model + metadata.teacher / metadata.target_lang) and the
/// reference's `msde-{lineage}-{lang}_{org}__{model}_intrinsic_metrics.json` (teacher and
/// language from the file name when the metadata lacks them). Every numeric leaf is kept under
/// both its dotted path ("distinct_ri.prompts_distinct_ri") and its leaf name.
///
/// lighteval results: `{"results": {"task[:lang][|shots]": {"acc": …, "acc_stderr": …}}}`.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <polyglot/json/value.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

inline constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

/// One intrinsic report: a (teacher, language) row of numeric features.
struct intrinsic_report {
    std::string teacher;
    std::string lang;
    std::string source;  ///< file path
    /// Every finite numeric leaf outside per-instance lists, as (dotted path, value).
    std::vector<std::pair<std::string, double>> values;

    /// Value by leaf name or dotted path; NaN when absent.
    [[nodiscard]] double get(std::string_view key) const {
        for (const auto& [k, v] : values)
            if (k == key) return v;
        for (const auto& [k, v] : values) {
            auto dot = k.rfind('.');
            if (dot != std::string::npos && std::string_view(k).substr(dot + 1) == key) return v;
        }
        return nan_value;
    }
};

/// Teacher and language parsed from a reference intrinsic file name
/// (`msde-S1-de_google__gemma-3-27b-it_intrinsic_metrics.json` → {"gemma-3-27b-it", "de"}).
std::optional<std::pair<std::string, std::string>> parse_reference_report_name(
    std::string_view filename);

/// Reads an intrinsic report (ours or the reference's). @p teacher / @p lang override what the
/// file says (the CLI's `--name TEACHER:LANG=FILE`).
/// @throws io_error, format_error (naming the file) when the JSON is invalid, when it has no
/// metric section, or when teacher/language cannot be determined.
intrinsic_report read_intrinsic_report(const std::string& path, const std::string& teacher = {},
                                       const std::string& lang = {});
intrinsic_report intrinsic_report_from_json(const json_value& root, const std::string& path,
                                            const std::string& teacher = {},
                                            const std::string& lang = {});

/// True when @p root looks like an intrinsic report (has one of the metric sections).
bool looks_like_intrinsic_report(const json_value& root);

/// One lighteval task score.
struct task_score {
    std::string task;    ///< the full key, e.g. "global_mmlu_lite:ar|0"
    std::string name;    ///< task without language and shots ("global_mmlu_lite")
    std::string lang;    ///< language code when the key has one ("ar"), else empty
    std::string metric;  ///< metric used ("acc", "extractive_match", "weighted_acc", ...)
    double value = nan_value;
    double stderr_ = nan_value;
    bool aggregate = false;  ///< lighteval's own "...:_average" / "all" entries
};

struct lighteval_results {
    std::string source;
    std::string model_name;         ///< config.model_name (or config_general.model_name)
    std::vector<task_score> tasks;  ///< in file order
    /// Other top-level numbers worth keeping (e.g. "filbench_score", "category_scores.X").
    std::vector<std::pair<std::string, double>> extras;

    /// Unweighted mean of the non-aggregate task scores in @p lang ("" = all tasks), and its
    /// standard error sqrt(Σσ²)/k (NaN when a task has no stderr). k = 0 gives NaN.
    [[nodiscard]] std::pair<double, double> average(std::string_view lang = {}) const {
        double sum = 0, var = 0;
        std::size_t k = 0;
        for (const auto& t : tasks) {
            if (t.aggregate || (!lang.empty() && t.lang != lang)) continue;
            sum += t.value;
            var += t.stderr_ * t.stderr_;
            ++k;
        }
        if (k == 0) return {nan_value, nan_value};
        double kk = static_cast<double>(k);
        return {sum / kk, std::sqrt(var) / kk};
    }
    /// Languages present in task keys, in first-seen order.
    [[nodiscard]] std::vector<std::string> languages() const {
        std::vector<std::string> out;
        for (const auto& t : tasks)
            if (!t.lang.empty() && std::find(out.begin(), out.end(), t.lang) == out.end())
                out.push_back(t.lang);
        return out;
    }
};

/// The metric the reference reads for a task (get_scores.py METRICS_TASK_MAP): global_mmlu_lite
/// → acc, mgsm_custom (and polyglot eval's mgsm) → extractive_match, mrewardbench_mcf →
/// weighted_acc; otherwise "acc" when present, else the first metric without a "_stderr" suffix.
std::string metric_for_task(std::string_view task_name);

/// Reads lighteval results JSON. @throws io_error, format_error naming the file and task.
lighteval_results read_lighteval(const std::string& path);
lighteval_results lighteval_from_json(const json_value& root, const std::string& path);

/// True when @p root looks like lighteval results ({"results": {...: {...}}}).
bool looks_like_lighteval(const json_value& root);

}  // namespace analysis
POLYGLOT_END_NAMESPACE
