// SPDX-License-Identifier: Apache-2.0
/// @file lighteval's results layout (`logging/evaluation_tracker.py`: config_general, results,
/// versions, config_tasks, summary_tasks, summary_general) for `polyglot eval`, and the
/// per-item details lines. `polyglot pgscore --student/--base/--ref` read these files as they
/// read lighteval's own (analysis::read_lighteval).
#pragma once

#include <cstdint>
#include <polyglot/eval/runner.hpp>
#include <polyglot/eval/tasks.hpp>
#include <polyglot/version.hpp>
#include <span>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {

/// What config_general records about the run.
struct run_info {
    std::string model_name;       ///< model identity (a directory path, or MODEL of URL#MODEL)
    std::string model_spec;       ///< --model as given
    std::string backend;          ///< the plugin that served it
    std::string model_info_json;  ///< the backend's JSON self-description ("{}" if none)
    std::uint64_t seed = 0;
    std::uint64_t limit = 0;  ///< --limit (0 = none)
    double start_time = 0;    ///< Unix time, seconds
    double end_time = 0;
    run_options options;  ///< batch sizes, --max-length, prefix sharing, generation
    std::size_t threads = 0;
    std::string job_id;  ///< $SLURM_JOB_ID when set
};

/// The results JSON (pretty-printed, ending in a newline). results: each task's metrics and
/// `<metric>_stderr` (left out where there is none), lighteval's `NAME:_average|SHOTS` for a
/// task run in several languages, and `all` (per metric, the mean over the tasks having it).
[[nodiscard]] std::string results_json(std::span<const task> tasks,
                                       std::span<const task_result> results, const run_info& info);

/// One JSONL line (with '\n') of per-item details of item @p index of @p t: task, index,
/// where, query, choices, gold, logprobs, tokens, greedy, prediction, metrics, truncated — or
/// for generative tasks query, gold, generation, extracted_pred, extracted_gold, metrics;
/// failed items carry `error`.
[[nodiscard]] std::string details_line(const task& t, std::size_t index, const item_result& res);

/// A details line read back (the journal of an interrupted run).
struct details_entry {
    std::string task;  ///< results key
    std::size_t index = 0;
    std::string query;   ///< the item's full prompt, to check it is still the same item
    item_result result;  ///< what the model gave (metrics are recomputed)
};
/// Parses a line written by details_line. @throws format_error naming @p where.
[[nodiscard]] details_entry parse_details_line(std::string_view line, const std::string& where);

/// Unix time now, in seconds.
[[nodiscard]] double unix_now() noexcept;

}  // namespace eval
POLYGLOT_END_NAMESPACE
