// SPDX-License-Identifier: Apache-2.0
/// @file The scoring driver behind `polyglot score` and `polyglot bench`: reads JSONL inputs in
/// fixed-size chunks through a TBB pipeline (serial reader → parallel parse → serial model calls
/// → parallel metrics → serial in-order merge and per-instance output). Chunk boundaries depend
/// only on the input, and chunk states are merged in input order, so results are identical for
/// any thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/io/jsonl.hpp>
#include <polyglot/judge/rubric.hpp>
#include <polyglot/plugin/services.hpp>
#include <polyglot/score/metric_set.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

/// Which metrics to build and with what.
struct metric_config {
    std::vector<std::string> names;         ///< from parse_metric_list (aliases accepted)
    std::string tokenizer = "cl100k_base";  ///< --tokenizer
    std::string lid_model = "lid.176.ftz";  ///< --lid-model (name in the data dir or a path)
    std::string embedder;                   ///< --embedder SPEC ("" = none)
    std::string lm;                         ///< --lm DIR ("" = none)
    std::string judge;                      ///< --judge SPEC ("" = none)
    judge::options judge_options;           ///< --judge-format, --judge-retries, ...
    std::optional<std::int32_t> invalid_as;  ///< --invalid-as N
    backend_options backend;                ///< --backend, --plugin-dir, --max-tokens
};

/// The metrics and the models that feed them, plus their identities for report metadata.
struct metric_bundle {
    std::vector<std::unique_ptr<any_metric>> metrics;               ///< in report order
    std::unique_ptr<embedder> emb;                                  ///< set when distinct_ri runs
    std::unique_ptr<scorer> lm;                                     ///< set when perplexity runs
    std::unique_ptr<generator> judge;                               ///< set when rubric runs
    judge::options judge_options;
    std::string tokenizer, lid_model, embedding_model, base_model;  ///< "" when not used
    std::string judge_model;                                        ///< "" when not used
};

/// Parses "length,lexical" / "all" into metric names (report sections) in report order
/// (duplicates removed; aliases such as "rubric" for "reward_model" accepted). "all" means every
/// metric whose model is given: length, lexical, language, plus distinct_ri when
/// @p have_embedder, perplexity when @p have_lm and reward_model when @p have_judge. Throws
/// argument_error on an unknown name. The metrics are those of score/metric_registry.hpp.
std::vector<std::string> parse_metric_list(std::string_view csv, bool have_embedder, bool have_lm,
                                           bool have_judge = false);

/// Opens the tokenizer, language-ID model, embedder, scorer and judge the metrics named in
/// @p cfg need and builds them, in report order. Throws argument_error when a metric is asked
/// for without its model (distinct_ri without an embedder, perplexity without an LM,
/// reward_model without a judge), and io/format/plugin errors from opening models.
metric_bundle make_metrics(const metric_config& cfg);

struct run_options {
    std::vector<std::string> inputs;  ///< paths (plain, .gz or .zst); "-" = standard input
    io::jsonl_options jsonl;
    std::uint64_t limit = 0;  ///< score at most this many records (0 = all)
    bool strict = false;      ///< stop at the first bad record (errc::bad_record)
    std::size_t tokens = 8;   ///< chunks in flight (about 4 × threads)
    /// Lines are numbered across all inputs in order (0-based "global lines"); only lines in
    /// [first_line, end_line) are read: a shard's block (state.hpp plan_shard), or the rest of
    /// a run from a checkpoint's next_line. Lines before first_line are passed over unparsed.
    std::uint64_t first_line = 0;
    std::uint64_t end_line = UINT64_MAX;
    /// Line counts of the inputs when known (plan_shard): whole files before first_line are
    /// then not read at all. Empty = unknown.
    std::vector<std::uint64_t> file_lines;
    /// Call run_hooks::on_checkpoint after a chunk once this many records were scored since
    /// the last checkpoint (0 = never) ...
    std::uint64_t checkpoint_records = 0;
    /// ... or once this many seconds passed since the last one (0 = never).
    double checkpoint_seconds = 0;
};

struct progress {
    std::uint64_t bytes_done = 0, bytes_total = 0;  ///< bytes_total 0 when unknown (stdin)
    std::uint64_t records = 0;
};

struct run_result;

/// Callbacks, all called from one thread at a time, in input order.
struct run_hooks {
    /// Each skipped (bad) line: "FILE:LINE: reason[: detail]". Blank lines are not skips.
    std::function<void(const std::string& message)> on_skip;
    /// After each chunk.
    std::function<void(const progress&)> on_progress;
    /// Per-instance JSONL text (whole lines), in input order; null = not produced.
    std::function<void(std::string_view)> per_instance;
    /// Each record whose model or server call failed (counted, never given a made-up value):
    /// "FILE:LINE: model_call_failed: why". In input order.
    std::function<void(const std::string& message)> on_failure;
    /// Progress inside the current model call (remote backends): items done of total, tokens.
    /// Called from the model stage's thread, concurrently with on_progress.
    std::function<void(std::uint64_t done, std::uint64_t total, std::uint64_t tokens)>
        on_model_progress;
    /// At a chunk boundary chosen by run_options::checkpoint_*: everything before global line
    /// @p next_line is merged into @p res (and was passed to per_instance); nothing after it.
    /// Saving @p res with next_line is a checkpoint to resume from.
    std::function<void(const run_result& res, std::uint64_t next_line)> on_checkpoint;
};

/// A run's counters: everything in run_result but the metric states. Saved states
/// (state.hpp) serialize every member; a new member needs a line there too.
struct run_counters {
    std::uint64_t num_samples = 0;                 ///< records scored
    std::uint64_t num_records_read = 0;            ///< records read (= num_samples + Σ skipped)
    std::uint64_t blank_lines = 0;                 ///< blank lines: not records, not skipped
    std::uint64_t bytes_read = 0;                  ///< input bytes consumed
    std::map<std::string, std::uint64_t> skipped;  ///< reason → count
    /// Records scored whose model or server call failed, by reason ("model_call_failed"): the
    /// metrics that needed the model count them and leave them out; the others still ran.
    std::map<std::string, std::uint64_t> failed;
    std::map<std::string, std::uint64_t, std::less<>> languages;  ///< record language → count
    double elapsed_seconds = 0;   ///< including the time of the runs it was resumed from
    std::uint64_t next_line = 0;  ///< global line after the last one read (or kept, at --limit)
};

struct run_result : run_counters {
    std::vector<std::unique_ptr<any_metric::state>> states;  ///< one per metric, merged

    /// --lang, else the most common record language ("" if none; ties → smallest code).
    [[nodiscard]] std::string target_lang() const;
};

/// Scores @p opts.inputs with @p bundle's metrics. Runs in the caller's TBB arena.
/// @param resume when given, the counters and states to continue from (a checkpoint's, see
/// state.hpp restore(); moved from), with opts.first_line at its next_line.
/// Throws io_error for unreadable inputs, polyglot::error(errc::bad_record) under strict mode
/// ("FILE:LINE: reason", also for a failed model call), and whatever the models throw.
run_result run(const run_options& opts, metric_bundle& bundle, const run_hooks& hooks = {},
               run_result* resume = nullptr);

/// Writes `"<metric>": {…}` for every metric of @p bundle into an open JSON object (the report
/// body; score/report.hpp writes the whole report).
void write_sections(io::json_writer& w, const metric_bundle& bundle, const run_result& res);

}  // namespace score
POLYGLOT_END_NAMESPACE
