// SPDX-License-Identifier: Apache-2.0
/// @file One scoring run as `polyglot score` does it, for the CLI and library users alike:
/// checks the options, plans this process's shard (--shard K/N, a Slurm array task, or an MPI
/// rank), resumes from a checkpoint, scores (score.hpp run), saves checkpoints and the final
/// state (state.hpp), writes the per-instance output (per_instance.hpp) and renders the report
/// (report.hpp). Also the other half of sharding: merging the shards' saved states into the
/// report one run would have written (`polyglot merge`).
///
/// The library never prints or exits: notices, skipped lines, failed model calls, progress and
/// the report itself go to the callbacks in job_events.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <polyglot/score/report.hpp>
#include <polyglot/score/score.hpp>
#include <polyglot/score/state.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

/// The processes of one run: the ranks of an MPI job. The MPI implementation lives in the CLI
/// (tools/polyglot/world), not here, so that libpolyglot does not link MPI: every program and
/// plugin host using the library would otherwise need an MPI runtime, and MPI_Init belongs to
/// the process that mpirun started. The job only needs these collectives.
class transport {
  public:
    virtual ~transport() = default;
    [[nodiscard]] virtual int rank() const noexcept = 0;
    [[nodiscard]] virtual int size() const noexcept = 0;
    /// Rank among the processes on this node (for one device per local rank).
    [[nodiscard]] virtual int local_rank() const noexcept = 0;
    [[nodiscard]] bool distributed() const noexcept { return size() > 1; }
    /// Rank 0 receives every rank's bytes in rank order; the others get {}. Collective.
    virtual std::vector<std::string> gather(std::string_view mine) = 0;
    /// Rank 0: calls @p sink with the bytes rank @p from sends with send_stream, in order,
    /// until that rank's stream ends.
    virtual void receive_stream(int from, const std::function<void(std::string_view)>& sink) = 0;
    /// Ranks > 0: sends the bytes @p source yields (empty = end) to rank 0.
    virtual void send_stream(const std::function<std::string()>& source) = 0;
    /// All ranks: true when every rank passed true. Collective.
    virtual bool all(bool ok) = 0;
};

/// Which block of the input this process scores.
struct shard_choice {
    bool set = false;
    std::uint32_t index = 0, count = 1;  // index 0-based
};

/// "K/N" (1-based K, as `split -n K/N`) or "slurm": K and N from the job array
/// (SLURM_ARRAY_TASK_ID relative to SLURM_ARRAY_TASK_MIN and _STEP, SLURM_ARRAY_TASK_COUNT).
/// Throws argument_error.
shard_choice parse_shard(const std::string& arg);

/// Everything `polyglot score` is told (its options, by the same names).
struct job_options {
    std::vector<std::string> inputs;  ///< FILE...: directories and glob patterns are expanded
    std::string metrics = "length,lexical,language";  ///< --metrics (parse_metric_list)
    metric_config config;     ///< tokenizer, models, judge and backend options (names: ignored)
    io::jsonl_options jsonl;  ///< --lang, --prompt-field, --response-field, --max-line-bytes
    std::uint64_t limit = 0;  ///< --limit (0 = all)
    bool strict = false;      ///< --strict
    std::size_t threads = 0;  ///< --threads (0 = all cores)
    std::string teacher;      ///< --teacher
    std::string report_path = "-";       ///< -o ("-" = standard output; checkpoints go beside it)
    bool report_requested = false;       ///< -o was given: a --shard run writes a report only then
    std::string per_instance_path;       ///< --per-instance ("" = none)
    std::string shard;                   ///< --shard: "K/N", "slurm" or "" (see parse_shard)
    std::string state_out;               ///< --state-out ("" = none)
    std::string checkpoint_path;         ///< --checkpoint ("" = beside --state-out or -o)
    std::uint64_t checkpoint_every = 0;  ///< --checkpoint-every N records (0 = off)
    double checkpoint_seconds = 0;       ///< --checkpoint-seconds S (0 = off)
    bool resume = false;                 ///< --resume
};

/// What a job tells its caller while it runs. All optional.
struct job_events {
    /// on_skip, on_failure, on_progress and on_model_progress as for run(); per_instance and
    /// on_checkpoint are the job's own (ignored here).
    run_hooks run;
    /// A notice worth showing, e.g. "resuming from FILE (N records scored)".
    std::function<void(const std::string& message)> on_notice;
    /// The report JSON, once, when this process writes the run's report (job::writes_report).
    std::function<void(std::string_view report)> on_report;
};

/// One scoring run (see the file comment).
class job {
  public:
    /// Checks @p opts, expands the inputs, plans this process's shard (a rank of @p world when
    /// it is distributed; null = one process) and opens the models. Throws argument_error on
    /// options that do not go together, and what opening the inputs and models throws.
    explicit job(job_options opts, transport* world = nullptr);
    ~job();
    job(const job&) = delete;
    job& operator=(const job&) = delete;

    /// The metrics and models (e.g. for the models' live request counters during the run).
    [[nodiscard]] const metric_bundle& bundle() const noexcept;
    /// The inputs as scored (expanded).
    [[nodiscard]] const std::vector<std::string>& inputs() const noexcept;
    /// Whether this process writes the run's report: not a --shard run without -o, and under
    /// MPI only rank 0.
    [[nodiscard]] bool writes_report() const noexcept;

    /// Scores (from the checkpoint with --resume), saving checkpoints, then writes the
    /// per-instance output and --state-out (under MPI, rank 0 gathers every rank's), hands the
    /// report to @p events.on_report and removes the checkpoint. Call once. Returns the whole
    /// run's result (under MPI, on rank 0; the others return their own shard's).
    run_result run(const job_events& events = {});

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// The result of merging shards (`polyglot merge`).
struct merged_run {
    metric_bundle bundle;  ///< built from the states' header (merge/finalize only)
    run_result result;
    report_info info;  ///< for render_report
};

/// Merges the complete states of every shard of one run into what one run over the whole
/// input would have produced, and concatenates their per-instance files into
/// @p per_instance_path when it is not "". Throws argument_error when the states were written
/// by another polyglot version or cannot be merged (merge_states), io_error when a shard's
/// per-instance file is not the one it recorded (append_instances).
merged_run merge_shards(std::vector<named_state>& states, const std::string& per_instance_path);

}  // namespace score
POLYGLOT_END_NAMESPACE
