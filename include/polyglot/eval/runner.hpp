// SPDX-License-Identifier: Apache-2.0
/// @file Running a loaded task on a model (docs/eval.md): log-likelihoods of the choices as
/// lighteval/lm-eval compute them (scorer::score_ids on lighteval's token split, an item's
/// choices sent together so the runtime computes their shared context once), greedy
/// generation for generative tasks (generator), and the task's metrics.
///
/// Not thread-safe (the scorer/generator is not); the backend parallelises inside. The
/// results do not depend on the batch sizes beyond the backend's own batch invariance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <polyglot/eval/tasks.hpp>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE

class scorer;
class generator;

namespace eval {

struct item_result;

struct run_options {
    std::size_t batch_tokens = 16384;  ///< tokens per score_ids call (whole items; >= 1 item)
    std::size_t batch_items = 0;       ///< items per call (0 = no limit besides batch_tokens)
    /// Longer sequences are cut from the left to this many tokens (0 = never cut: the backend
    /// reports them as failed items). Generation keeps max_length - max_new_tokens.
    std::size_t max_length = 0;
    /// true: an item's choices go to the backend in one call (it computes their shared context
    /// once); false: one sequence per call (no sharing; for checks and benchmarks).
    bool share_prefix = true;
    std::uint32_t max_new_tokens = 0;  ///< generative tasks: 0 = the task's generation_size
    bool keep_ids = false;  ///< keep each scored sequence's token ids (item_result::input_ids)
    bool strict = false;    ///< the first failed item stops the run (plugin_error)
    /// Called after each batch with items done and total items of the task.
    std::function<void(std::size_t done, std::size_t total)> progress;
    /// Called once per item when it is final (scored, generated or failed), with its index in
    /// the task: a journal keeps them for a resumed run (run_task).
    std::function<void(std::size_t index, const item_result& r)> on_item;
    const volatile std::int32_t* cancel = nullptr;  ///< non-zero: stop early (plugin_error)
};

/// lighteval's tok_encode_pair (pairwise = false) on token ids: the continuation is
/// whole[n:] with n = len(encode(context)), backed off by one token when that is the whole
/// length. Returns n.
[[nodiscard]] inline std::size_t continuation_start(std::size_t context_tokens,
                                                    std::size_t whole_tokens) noexcept {
    return context_tokens == whole_tokens && context_tokens > 0 ? context_tokens - 1
                                                                : context_tokens;
}

/// One item's outcome.
struct item_result {
    std::vector<double> logprobs;      ///< per choice: summed continuation log-probability
    std::vector<std::size_t> tokens;   ///< per choice: continuation tokens
    std::vector<std::uint8_t> greedy;  ///< per choice: every continuation token is the argmax
    std::size_t context_tokens = 0;    ///< tokens before the (first) continuation
    std::string generation;            ///< generative tasks: the generated text
    std::vector<std::int32_t> generated_ids;  ///< generative tasks: its token ids
    /// With run_options::keep_ids: per choice, the token ids before the continuation and of the
    /// continuation (lighteval's input_tokens / output_tokens).
    std::vector<std::vector<std::int32_t>> input_ids, cont_ids;
    std::string extracted_pred, extracted_gold;  ///< generative: what the metric compared
    std::size_t prediction = 0;                  ///< log-likelihood tasks: argmax of logprobs
    std::vector<std::pair<std::string, double>> metrics;  ///< per-item metric values
    bool truncated = false;
    bool failed = false;
    std::string error;  ///< why, when failed
};

struct metric_value {
    std::string name;
    double value = 0;
    double stderr_ = 0;  ///< NaN: none reported
};

struct task_result {
    std::vector<item_result> items;     ///< one per task item, in order
    std::vector<metric_value> metrics;  ///< in report order
    std::uint64_t failed = 0;
    std::uint64_t truncated = 0;
    std::vector<std::string> warnings;
    double seconds = 0;
};

/// Scores every choice of every item of a log-likelihood task. Model failures of an item mark
/// it failed (with the backend's message); --strict turns the first into a plugin_error.
void score_task(scorer& model, const task& t, const run_options& opts, task_result& out);

/// Generates a greedy continuation for every item of a generative task (stop sequences and
/// generation size from the task).
void generate_task(generator& model, const task& t, const run_options& opts, task_result& out);

/// Runs @p t (on @p sc for log-likelihood tasks, @p gen for generative ones) on the items
/// not in @p done — results of an interrupted run by item index, e.g. read back from its
/// journal — and merges: out.items[i] is done[i] or the new result. opts.on_item sees the new
/// items with their indices in @p t.
void run_task(scorer* sc, generator* gen, const task& t, const run_options& opts,
              std::map<std::size_t, item_result> done, task_result& out);

/// The task's metrics from the scored/generated items (failed items are left out and
/// counted): per-item values, then means with standard errors and corpus metrics.
void compute_metrics(const task& t, task_result& r);

}  // namespace eval
POLYGLOT_END_NAMESPACE
