// SPDX-License-Identifier: Apache-2.0
// One scoring run as `polyglot score` does it: option checks, shards (K/N, Slurm, MPI ranks),
// checkpoints and resume, the final state, per-instance output and report; and merging shards.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/io/input.hpp>
#include <polyglot/judge/rubric.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/score/job.hpp>
#include <polyglot/score/per_instance.hpp>
#include <polyglot/version.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

namespace {

std::uint32_t env_number(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v)
        throw argument_error(std::string("--shard slurm: $") + name +
                             " is not set (run inside a Slurm job array, sbatch --array)");
    char* end = nullptr;
    const unsigned long n = std::strtoul(v, &end, 10);
    if (*end) throw argument_error(std::string("--shard slurm: $") + name + "='" + v + "'");
    return static_cast<std::uint32_t>(n);
}

shard_choice slurm_shard() {
    shard_choice c;
    c.set = true;
    const std::uint32_t id = env_number("SLURM_ARRAY_TASK_ID");
    const std::uint32_t min = env_number("SLURM_ARRAY_TASK_MIN");
    const std::uint32_t count = env_number("SLURM_ARRAY_TASK_COUNT");
    const char* step_s = std::getenv("SLURM_ARRAY_TASK_STEP");
    const std::uint32_t step = step_s && *step_s ? env_number("SLURM_ARRAY_TASK_STEP") : 1;
    if (id < min || step == 0 || (id - min) % step != 0 || (id - min) / step >= count)
        throw argument_error("--shard slurm: task " + std::to_string(id) +
                             " is not in the array (min " + std::to_string(min) + ", step " +
                             std::to_string(step) + ", count " + std::to_string(count) + ")");
    c.index = (id - min) / step;
    c.count = count;
    return c;
}

/// Under MPI, ranks on one node share its devices: local rank R uses device R mod D of the
/// backend that will serve the models, when that backend has several devices (D > 1); else
/// -1 (the backend's default). Not yet validated on a multi-GPU node.
int device_for_local_rank(const metric_config& cfg, int local_rank) {
    plugin::search_options search;
    search.plugin_dirs = cfg.backend.plugin_dirs;
    const std::uint64_t caps = !cfg.lm.empty() ? POLYGLOT_CAP_SCORE : POLYGLOT_CAP_EMBED;
    std::vector<plugin::plugin_ptr> candidates;
    try {
        candidates = plugin::select_backends(cfg.backend.backend, caps, search);
    } catch (const error&) {
        return -1;  // opening the model reports the problem
    }
    if (candidates.empty()) return -1;
    const auto devices = static_cast<int>(candidates.front()->devices().size());
    return devices > 1 ? local_rank % devices : -1;
}

/// The judge options that cannot work, and --invalid-as out of range.
void check_judge_options(const metric_config& cfg) {
    if (cfg.invalid_as && (*cfg.invalid_as < 1 || *cfg.invalid_as > 5))
        throw argument_error("--invalid-as must be 1..5");
    // Constrained decoding needs room for the shortest judgement, {"feedback":"","score":1}.
    if (cfg.judge_options.format == judge::judge_format::json &&
        cfg.judge_options.max_new_tokens < 25)
        throw argument_error(
            "--judge-max-new-tokens must be at least 25 with --judge-format json (the shortest "
            "judgement, {\"feedback\":\"\",\"score\":1}, has 25 characters)");
    if (cfg.judge_options.max_new_tokens == 0)
        throw argument_error("--judge-max-new-tokens must be > 0");
}

}  // namespace

shard_choice parse_shard(const std::string& arg) {
    if (arg == "slurm") return slurm_shard();
    shard_choice c;
    c.set = true;
    const auto slash = arg.find('/');
    unsigned long k = 0, n = 0;
    bool ok = slash != std::string::npos && slash > 0 && slash + 1 < arg.size();
    if (ok) {
        char* e1 = nullptr;
        char* e2 = nullptr;
        const std::string a = arg.substr(0, slash), b = arg.substr(slash + 1);
        k = std::strtoul(a.c_str(), &e1, 10);
        n = std::strtoul(b.c_str(), &e2, 10);
        ok = !*e1 && !*e2 && n >= 1 && k >= 1 && k <= n && n <= 1000000;
    }
    if (!ok)
        throw argument_error("--shard '" + arg +
                             "': expected K/N with 1 <= K <= N (e.g. 3/8), or slurm");
    c.index = static_cast<std::uint32_t>(k - 1);
    c.count = static_cast<std::uint32_t>(n);
    return c;
}

struct job::impl {
    job_options o;
    transport* world = nullptr;
    bool distributed = false;
    shard_choice shard;
    bool checkpointing = false;
    std::string rank_suffix;  ///< ".rank-R" under MPI: every rank's own files
    bool write_report = false;
    bool need_state = false;
    std::optional<parallel::thread_limit> limit_threads;
    std::size_t nthreads = 0;
    metric_bundle bundle;
    run_options ropts;
    state_header header;
    shard_spec spec;

    // Set by run().
    saved_state ck;  ///< the checkpoint resumed from
    bool have_ck = false;
    std::optional<instance_output> inst;
    bool instances_done = false;
    std::vector<std::string> backends;

    impl(job_options opts, transport* w);
    void check_outputs();
    std::optional<run_result> resume_from_checkpoint(const job_events& ev);
    void open_instances();
    saved_state snapshot(const run_result& res, std::uint64_t next_line, bool complete);
    void gather_ranks(run_result& res, const saved_state& final_state, report_info& info);
};

job::impl::impl(job_options opts, transport* w)
    : o(std::move(opts)), world(w), distributed(w && w->distributed()) {
    if (o.report_path == "-" && o.per_instance_path == "-")
        throw argument_error("--output and --per-instance cannot both be standard output");
    if (o.jsonl.max_line_bytes == 0) throw argument_error("--max-line-bytes must be > 0");
    o.inputs = io::expand_inputs(o.inputs);
    if (!o.shard.empty()) {
        if (distributed)
            throw argument_error("--shard: under mpirun every rank already scores its own shard");
        shard = parse_shard(o.shard);
        if (o.state_out.empty())
            throw argument_error("--shard " + o.shard +
                                 " saves this shard's work with --state-out FILE (then polyglot "
                                 "merge); give --state-out");
    } else if (distributed) {
        shard = {true, static_cast<std::uint32_t>(world->rank()),
                 static_cast<std::uint32_t>(world->size())};
    }
    check_outputs();

    metric_config& cfg = o.config;
    cfg.backend.threads = o.threads;
    check_judge_options(cfg);
    cfg.names =
        parse_metric_list(o.metrics, !cfg.embedder.empty(), !cfg.lm.empty(), !cfg.judge.empty());
    if (distributed && (!cfg.lm.empty() || !cfg.embedder.empty()))
        cfg.backend.device = device_for_local_rank(cfg, world->local_rank());

    limit_threads.emplace(o.threads);
    nthreads = o.threads ? o.threads : parallel::default_concurrency();
    bundle = make_metrics(cfg);

    ropts.inputs = o.inputs;
    ropts.jsonl = o.jsonl;
    ropts.limit = o.limit;
    ropts.strict = o.strict;
    ropts.tokens = 4 * nthreads;
    ropts.checkpoint_records = o.checkpoint_every;
    ropts.checkpoint_seconds = o.checkpoint_seconds;

    need_state = checkpointing || shard.set || !o.state_out.empty();
    if (need_state) header = make_header(cfg, bundle, ropts, o.teacher);
    if (shard.set) {
        spec = plan_shard(ropts, shard.index, shard.count, ropts.file_lines);
        ropts.first_line = spec.line_begin;
        ropts.end_line = spec.line_end;
    }
}

/// Checks of shards, checkpoints and outputs; sets the checkpoint path and who writes a report.
void job::impl::check_outputs() {
    const bool has_stdin = std::find(o.inputs.begin(), o.inputs.end(), "-") != o.inputs.end();
    if (shard.set && o.limit)
        throw argument_error(
            "--limit counts records from the start of the whole input; it "
            "cannot be combined with shards");
    checkpointing = o.checkpoint_every > 0 || o.checkpoint_seconds > 0 || o.resume;
    if (o.checkpoint_seconds < 0) throw argument_error("--checkpoint-seconds must be >= 0");
    if (checkpointing && has_stdin)
        throw argument_error(
            "checkpoints and --resume need files: standard input ('-') cannot "
            "be read again");
    if ((checkpointing || distributed) && o.per_instance_path == "-")
        throw argument_error("--per-instance -: a checkpointed or MPI run needs a file");
    if (checkpointing && o.checkpoint_path.empty()) {
        const std::string base = !o.state_out.empty()   ? o.state_out
                                 : o.report_path != "-" ? o.report_path
                                                        : std::string();
        if (base.empty())
            throw argument_error(
                "checkpoints: give --checkpoint FILE (or -o / --state-out, "
                "beside which it goes)");
        o.checkpoint_path = base + ".checkpoint";
    }
    rank_suffix = distributed ? ".rank-" + std::to_string(world->rank()) : "";
    if (!o.checkpoint_path.empty()) o.checkpoint_path += rank_suffix;
    // A shard started with --shard writes a report only when asked to (-o), and it covers only
    // that shard; under MPI rank 0 writes the whole run's report.
    write_report = distributed ? world->rank() == 0 : !shard.set || o.report_requested;
}

std::optional<run_result> job::impl::resume_from_checkpoint(const job_events& ev) {
    const std::string& path = o.checkpoint_path;
    if (!o.resume) return std::nullopt;
    if (!std::filesystem::exists(path)) {
        if (ev.on_notice)
            ev.on_notice("no checkpoint at " + path + ": starting from the beginning");
        return std::nullopt;
    }
    ck = read_state(path);
    have_ck = true;
    const std::string d = header_difference(ck.header, header);
    if (!d.empty())
        throw argument_error("cannot resume from " + path +
                             ": it was written by a run with other options or inputs (" + d +
                             "); delete it to start again");
    if (!(ck.shard == spec))
        throw argument_error("cannot resume from " + path + ": it belongs to shard " +
                             std::to_string(ck.shard.index + 1) + "/" +
                             std::to_string(ck.shard.count));
    if (ck.per_instance_path != o.per_instance_path)
        throw argument_error("cannot resume from " + path + ": its per-instance output is '" +
                             ck.per_instance_path + "', this run's '" + o.per_instance_path + "'");
    run_result start = restore(ck, bundle, path);
    ropts.first_line = ck.counters.next_line;
    if (ev.on_notice)
        ev.on_notice("resuming from " + path + " (" + std::to_string(ck.counters.num_samples) +
                     " records scored)");
    return start;
}

/// Per-instance output. A finished checkpoint whose output was already renamed into place
/// (killed just before the checkpoint was removed) has nothing left to write.
void job::impl::open_instances() {
    const std::string& path = o.per_instance_path;
    if (path.empty()) return;
    const bool resumable_instances = checkpointing || distributed;
    const std::string partial = path + rank_suffix + ".partial";
    if (have_ck && ck.complete && !std::filesystem::exists(partial) &&
        std::filesystem::exists(path) &&
        std::filesystem::file_size(path) == ck.per_instance_bytes) {
        instances_done = true;
    } else if (resumable_instances) {
        inst.emplace(path, partial, have_ck ? ck.per_instance_bytes : 0,
                     have_ck ? ck.per_instance_crc : 0);
    } else {
        inst.emplace(path);
    }
}

/// A saved state of the run so far.
saved_state job::impl::snapshot(const run_result& res, std::uint64_t next_line, bool complete) {
    saved_state st = capture(res, bundle);
    st.header = header;
    st.shard = spec;
    st.complete = complete;
    st.counters.next_line = next_line;
    st.per_instance_path = o.per_instance_path;
    st.threads = nthreads;
    st.backends = backends;
    if (inst) {
        inst->sync();
        st.per_instance_bytes = inst->size();
        st.per_instance_crc = inst->crc();
    } else if (instances_done) {
        st.per_instance_bytes = ck.per_instance_bytes;
        st.per_instance_crc = ck.per_instance_crc;
    }
    return st;
}

/// Under MPI: rank 0 gathers every rank's state and per-instance output, in rank order, into
/// the whole run's result, per-instance file and --state-out.
void job::impl::gather_ranks(run_result& res, const saved_state& final_state, report_info& info) {
    auto states = world->gather(encode_state(final_state));
    if (world->rank() == 0) {
        std::vector<named_state> named;
        for (std::size_t r = 0; r < states.size(); ++r)
            named.push_back({"rank " + std::to_string(r),
                             decode_state(states[r], "rank " + std::to_string(r))});
        const double wall = res.elapsed_seconds;
        for (const auto& n : named) add_backends(info.backends, n.state.backends);
        res = merge_states(named, bundle);
        res.elapsed_seconds = wall;
        const std::string& path = o.per_instance_path;
        if (inst) {
            io::atomic_ofstream out(path);
            auto own = file_pieces(inst->temp_path());
            for (std::string b = own(); !b.empty(); b = own()) out.write(b);
            for (int r = 1; r < world->size(); ++r)
                world->receive_stream(r, [&](std::string_view b) { out.write(b); });
            out.commit();
        }
        if (!o.state_out.empty()) {
            saved_state whole = capture(res, bundle);
            whole.header = header;
            whole.complete = true;
            whole.backends = info.backends;
            whole.per_instance_path = path;
            if (!path.empty()) {
                whole.per_instance_bytes = std::filesystem::file_size(path);
                whole.per_instance_crc = 0;
                auto all = file_pieces(path);
                for (std::string b = all(); !b.empty(); b = all())
                    whole.per_instance_crc = io::crc32(whole.per_instance_crc, b);
            }
            write_state(o.state_out, whole);
        }
    } else if (inst) {
        world->send_stream(file_pieces(inst->temp_path()));
    }
    world->all(true);  // every rank's output is in place before the partial files go
    std::error_code ec;
    if (inst) std::filesystem::remove(inst->temp_path(), ec);
}

job::job(job_options opts, transport* world)
    : impl_(std::make_unique<impl>(std::move(opts), world)) {}

job::~job() = default;

const metric_bundle& job::bundle() const noexcept { return impl_->bundle; }
const std::vector<std::string>& job::inputs() const noexcept { return impl_->o.inputs; }
bool job::writes_report() const noexcept { return impl_->write_report; }

run_result job::run(const job_events& events) {
    impl& m = *impl_;
    std::optional<run_result> start = m.resume_from_checkpoint(events);
    run_hooks hooks = events.run;
    hooks.per_instance = nullptr;
    hooks.on_checkpoint = nullptr;
    m.open_instances();
    if (m.inst) hooks.per_instance = [&](std::string_view s) { m.inst->write(s); };

    // Who computes the model values in this run (and, resumed, in the runs before it).
    const metric_bundle& b = m.bundle;
    if (b.emb) m.backends.push_back(b.emb->identity("embedding_model").json());
    if (b.lm) m.backends.push_back(b.lm->identity("base_model").json());
    if (b.judge) m.backends.push_back(b.judge->identity("judge_model").json());
    add_backends(m.backends, m.have_ck ? m.ck.backends : std::vector<std::string>());

    if (m.checkpointing)
        hooks.on_checkpoint = [&](const run_result& res, std::uint64_t next_line) {
            write_state(m.o.checkpoint_path, m.snapshot(res, next_line, false));
        };

    auto res = score::run(m.ropts, m.bundle, hooks, start ? &*start : nullptr);

    saved_state final_state;
    if (m.need_state || m.distributed) {
        final_state = m.snapshot(res, res.next_line, true);
        // From here a kill resumes straight to the end: nothing is scored twice.
        if (m.checkpointing) write_state(m.o.checkpoint_path, final_state);
    }

    report_info info;
    info.inputs = m.o.inputs;
    info.teacher = m.o.teacher;
    info.lang = m.ropts.jsonl.lang;
    info.tool_version = POLYGLOT_VERSION_STRING;
    info.threads = m.nthreads;
    info.backends = m.backends;
    if (b.lm || b.emb) info.parse_special = m.o.config.backend.parse_special ? "true" : "false";
    if (m.shard.set && !m.distributed)
        info.shard = std::to_string(m.shard.index + 1) + "/" + std::to_string(m.shard.count);

    if (m.distributed) {
        m.gather_ranks(res, final_state, info);
    } else {
        if (!m.o.state_out.empty()) write_state(m.o.state_out, final_state);
        if (m.inst) m.inst->commit();
    }
    if (m.write_report && events.on_report) events.on_report(render_report(info, m.bundle, res));
    if (m.checkpointing) {
        std::error_code ec;
        std::filesystem::remove(m.o.checkpoint_path, ec);
    }
    return res;
}

merged_run merge_shards(std::vector<named_state>& states, const std::string& per_instance_path) {
    if (states.empty()) throw argument_error("merge: no state given");
    const std::string version = header_value(states.front().state.header, "polyglot_version");
    if (version != POLYGLOT_VERSION_STRING)
        throw argument_error(states.front().name + ": written by polyglot " + version +
                             "; this is polyglot " POLYGLOT_VERSION_STRING
                             " (merge with the version that scored the shards)");
    merged_run m;
    m.bundle = make_metrics_from_header(states.front().state.header);
    m.result = merge_states(states, m.bundle);  // sorts states by shard

    if (!per_instance_path.empty()) {
        io::atomic_ofstream out(per_instance_path);
        for (const auto& s : states) append_instances(out, s);
        out.commit();
    }

    const auto& h = states.front().state.header;
    report_info& info = m.info;
    const std::string inputs_field = header_value(h, "inputs");
    const std::uint64_t n_inputs = std::strtoull(inputs_field.c_str(), nullptr, 10);
    for (std::uint64_t i = 0; i < n_inputs; ++i)
        info.inputs.push_back(header_value(h, "input." + std::to_string(i)));
    info.teacher = header_value(h, "teacher");
    info.lang = header_value(h, "lang");
    info.parse_special = header_value(h, "parse_special");
    info.tool_version = version;
    for (const auto& s : states) {
        info.threads = std::max<std::size_t>(info.threads, s.state.threads);
        add_backends(info.backends, s.state.backends);
    }
    return m;
}

}  // namespace score
POLYGLOT_END_NAMESPACE
