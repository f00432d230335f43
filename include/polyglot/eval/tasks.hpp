// SPDX-License-Identifier: Apache-2.0
/// @file The benchmarks `polyglot eval` runs (docs/eval.md): the paper's tasks as its lighteval
/// task file defines them — `global_mmlu_lite` (letter-choice MCF, 0-shot, `acc`),
/// `mrewardbench_mcf` (the m-rewardbench judge prompt as an A/B MCF item, `acc`,
/// `acc_norm_token`, `weighted_acc`), `mgsm` (5-shot generative, numeric extractive match) —
/// and users' own multiple-choice tasks from a JSONL task file. Data come from local JSONL/CSV
/// files as exported from the Hugging Face datasets; the tool never downloads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {

enum class task_kind {
    loglikelihood,  ///< choices scored by log-likelihood (SCORE on token ids)
    generative,     ///< a greedy continuation is generated and matched (GENERATE)
};

/// One evaluation document, rendered.
struct eval_item {
    std::string context;               ///< the full prompt: few-shot examples + query
    std::vector<std::string> choices;  ///< continuations (lighteval's Doc.choices)
    std::vector<std::size_t> gold;     ///< gold choice indices (log-likelihood tasks)
    std::string gold_text;             ///< the gold answer (generative tasks)
    std::string source;                ///< M-RewardBench subset ("" for other tasks)
    std::string where;                 ///< "FILE:LINE" of the row
};

/// A task as asked for on the command line.
struct task_request {
    std::string name;  ///< task name ("global_mmlu_lite", ...; a task file's name)
    std::string lang;  ///< ISO 639-1 code, "" = none
    int shots = -1;    ///< -1 = the task's default
    std::string file;  ///< --task-file path ("" for the built-in tasks)
};

/// Parses `TASK[:LANG][|SHOTS]` (also lighteval's `SUITE|TASK:LANG|SHOTS`).
/// @throws argument_error for an empty name or bad shot count.
[[nodiscard]] task_request parse_task(std::string_view spec);

/// Parses a --task-file value: `[NAME[:LANG]=]FILE` (NAME defaults to the file's stem).
[[nodiscard]] task_request parse_task_file(std::string_view spec);

/// The built-in task names.
[[nodiscard]] std::vector<std::string> builtin_tasks();

/// A loaded task, ready to run.
struct task {
    std::string key;   ///< results key, lighteval's "NAME:LANG|SHOTS" ("global_mmlu_lite:de|0")
    std::string name;  ///< "NAME:LANG" (lighteval's task name)
    std::string base;  ///< "global_mmlu_lite"
    std::string lang;
    unsigned shots = 0;
    task_kind kind = task_kind::loglikelihood;
    std::vector<std::string> metrics;  ///< reported metrics, in order
    std::vector<eval_item> items;
    // Provenance (config_tasks).
    std::string hf_repo, hf_subset;
    std::string data_file, fewshot_file;
    std::string fewshot_select;                    ///< "sequential", "file" or ""
    std::uint64_t rows_read = 0;                   ///< data rows seen (skipped ones included)
    std::map<std::string, std::uint64_t> skipped;  ///< reason → rows
    int version = 0;
    // Generative tasks.
    std::uint32_t generation_size = 0;  ///< lighteval's generation_size (max new tokens)
    std::vector<std::string> stop;      ///< stop sequences
};

struct load_options {
    std::string data;          ///< --data: a directory (docs/eval.md layout) or one file
    std::string fewshot_data;  ///< --fewshot-data: the few-shot split when --data is a file
    std::uint64_t limit = 0;   ///< first N items per task (0 = all)
    std::uint64_t seed = 0;    ///< mrewardbench_mcf's per-row A/B order
    bool strict = false;       ///< a bad row is an error instead of a counted skip
    /// Called once per skipped row with "FILE:LINE: what was wrong".
    std::function<void(const std::string&)> on_skip;
};

/// Loads and renders a task. Rows that cannot be used (malformed JSON, a missing/null/
/// non-string field, a bad answer) are skipped and counted by reason in task::skipped, or
/// throw format_error naming file, line and field when @p opts.strict.
/// @throws argument_error (unknown task or language), io_error (no data file; the message lists
/// the paths tried), format_error.
[[nodiscard]] task load_task(const task_request& req, const load_options& opts);

/// mrewardbench_mcf's A/B order: true when the chosen answer is choice A.
/// x = splitmix64(fnv1a64(seed + "\x1f" + prompt + "\x1f" + chosen + "\x1f" + rejected)),
/// chosen first iff the top bit of x is 0 (a per-row seeded coin; the paper shuffled without a
/// seed).
[[nodiscard]] bool mrb_chosen_first(std::uint64_t seed, std::string_view prompt,
                                    std::string_view chosen, std::string_view rejected) noexcept;

}  // namespace eval
POLYGLOT_END_NAMESPACE
