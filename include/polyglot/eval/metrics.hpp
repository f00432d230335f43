// SPDX-License-Identifier: Apache-2.0
/// @file Student-evaluation metrics as lighteval computes them (docs/eval.md §Metrics):
/// log-likelihood accuracy with no, character or token normalisation (`metrics_sample.py`
/// LoglikelihoodAcc, `normalizations.py`), the mean and its standard error (`stderr.py`
/// mean_stderr: sample SD with ddof 1 over sqrt(n)), and M-RewardBench's weighted accuracy
/// (the paper's lighteval fork, `metrics_corpus.py` MRewardBenchWeightedAccuracy) with a
/// bootstrap standard error replaying lighteval's resampling (random.Random(0).choices).
/// Pure functions: thread-safe and deterministic.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {

/// Index of the first maximum (numpy.argmax). @p v must not be empty.
[[nodiscard]] std::size_t argmax_first(std::span<const double> v) noexcept;

/// How log-likelihoods are normalised before the argmax.
enum class ll_norm {
    none,    ///< `acc`: summed log-likelihood
    chars,   ///< `acc_norm`: divided by the choice's length in code points (Doc.choices text)
    tokens,  ///< `acc_norm_token`: divided by the continuation's token count
};

/// The chosen index under @p norm. All spans have one entry per choice (not empty).
[[nodiscard]] std::size_t predict(std::span<const double> logprobs,
                                  std::span<const std::size_t> tokens,
                                  std::span<const std::string> choices, ll_norm norm);

/// 1 if @p pred is one of @p gold, else 0 (lighteval's `best_choice in gold_ixs`).
[[nodiscard]] double hit(std::size_t pred, std::span<const std::size_t> gold) noexcept;

struct mean_stderr {
    double mean = 0;
    double stderr_ = 0;  ///< NaN when fewer than two values (lighteval leaves it out)
};
/// Mean of @p v and sample SD (ddof 1) / sqrt(n). Empty → NaN mean.
[[nodiscard]] mean_stderr mean_with_stderr(std::span<const double> v) noexcept;

/// M-RewardBench categories in the order of the fork's SUBSET_MAPPING.
inline constexpr std::array<std::string_view, 4> mrb_categories = {"Chat", "Chat Hard", "Safety",
                                                                   "Reasoning"};
/// Result-key suffixes of the categories (weighted_acc_chat, ...).
inline constexpr std::array<std::string_view, 4> mrb_category_keys = {"chat", "chat_hard", "safety",
                                                                      "reasoning"};

/// The fixed example count of a reward-bench subset (the fork's EXAMPLE_COUNTS, m-rewardbench's
/// filtered counts with math-prm up-weighted to 983), or -1 for a subset not in any category.
[[nodiscard]] int mrb_example_count(std::string_view subset) noexcept;
/// The category index (into mrb_categories) of a subset, or -1.
[[nodiscard]] int mrb_category_of(std::string_view subset) noexcept;

/// One scored M-RewardBench item: its `source` subset, gold index and argmax prediction
/// (summed log-likelihoods, no normalisation: lighteval's single-token preparator).
struct mrb_outcome {
    std::string_view source;
    std::size_t gold = 0;
    std::size_t pred = 0;
};

struct weighted_accuracy {
    double value = 0;                  ///< mean of the four category accuracies
    std::array<double, 4> category{};  ///< 0 where no subset of the category is present
    std::array<bool, 4> present{};     ///< the category has at least one known subset
};

/// Accuracy per subset, then per category the subsets weighted by their example counts, then
/// the unweighted mean over the four categories (a category with no data counts as 0, as in the
/// fork). Items of unknown subsets are ignored.
[[nodiscard]] weighted_accuracy mrb_weighted_accuracy(std::span<const mrb_outcome> items);

struct weighted_accuracy_stats {
    weighted_accuracy point;
    double stderr_ = 0;                       ///< bootstrap SE of point.value
    std::array<double, 4> category_stderr{};  ///< bootstrap SE of each category
};

/// mrb_weighted_accuracy plus bootstrap standard errors: @p draws resamples of the items drawn
/// as Python's random.Random(@p seed).choices(items, k=len(items)), and the sample SD (ddof 1)
/// of the statistic over them. (lighteval divides this SD once more by sqrt(draws); see
/// docs/eval.md.) Fewer than two items: NaN standard errors.
[[nodiscard]] weighted_accuracy_stats mrb_weighted_accuracy_bootstrap(
    std::span<const mrb_outcome> items, std::size_t draws = 1000, std::uint64_t seed = 0);

}  // namespace eval
POLYGLOT_END_NAMESPACE
