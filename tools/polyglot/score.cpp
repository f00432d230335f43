// SPDX-License-Identifier: Apache-2.0
// polyglot score: intrinsic metrics of SFT datasets (product.md §3), report JSON + per-instance.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/io/input.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/model_spec.hpp>
#include <polyglot/score/score.hpp>
#include <polyglot/score/state.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"
#include "score_util.hpp"
#include "world.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

constexpr std::size_t max_skip_messages = 5;

/// Progress of the model calls (remote backends report per request).
struct model_progress {
    std::uint64_t done = 0, total = 0;      ///< within the current call
    std::uint64_t finished_calls_done = 0;  ///< items of earlier calls
    std::uint64_t tokens = 0, call_tokens = 0;
    std::uint64_t expected = 0;  ///< items of the whole run (0 = unknown)
};

/// Lines of the regular files among @p inputs (0 when one is not a regular file).
std::uint64_t count_lines(const std::vector<std::string>& inputs) {
    std::uint64_t n = 0;
    std::vector<char> buf(1 << 20);
    for (const auto& in : inputs) {
        std::error_code ec;
        if (in == "-" || !std::filesystem::is_regular_file(in, ec)) return 0;
        std::FILE* f = std::fopen(in.c_str(), "rb");
        if (!f) return 0;
        char last = '\n';
        for (std::size_t got; (got = std::fread(buf.data(), 1, buf.size(), f)) > 0;) {
            n += static_cast<std::uint64_t>(std::count(buf.data(), buf.data() + got, '\n'));
            last = buf[got - 1];
        }
        if (last != '\n') ++n;
        std::fclose(f);
    }
    return n;
}

/// The number after "\"key\":" in a model's info JSON (its live request counters), or 0.
std::uint64_t info_counter(const std::string& info, std::string_view key) {
    const double v = find_number(info, key);
    return std::isnan(v) || v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

void print_progress(const score::progress& p, const model_progress& mp,
                    const score::metric_bundle& b, double seconds) {
    const double mb = static_cast<double>(p.bytes_done) / 1e6;
    // Requests of remote models: retries and failures so far, from their info counters.
    std::uint64_t retries = 0, failed = 0, requests = 0;
    for (const std::string& info :
         {b.lm ? b.lm->info_json() : std::string(), b.emb ? b.emb->info_json() : std::string()}) {
        if (info.find("\"stats\"") == std::string::npos) continue;
        requests += info_counter(info, "requests");
        retries += info_counter(info, "retries");
        failed += info_counter(info, "failed");
    }
    const std::uint64_t items = mp.finished_calls_done + mp.done;
    const bool remote = requests || mp.total;
    std::string extra;
    if (remote) {
        const double tps = seconds > 0 ? double(mp.tokens + mp.call_tokens) / seconds : 0;
        char buf[200];
        std::string of = mp.expected ? "/" + std::to_string(mp.expected) : std::string();
        std::snprintf(
            buf, sizeof buf, " | requests: %llu%s done, %.0f tok/s, %llu retries, %llu failed",
            static_cast<unsigned long long>(items), of.c_str(), tps,
            static_cast<unsigned long long>(retries), static_cast<unsigned long long>(failed));
        extra = buf;
    }
    const double frac =
        p.bytes_total ? std::min(1.0, double(p.bytes_done) / double(p.bytes_total)) : 0;
    // ETA: from bytes read; with a remote model, from the model's items done of the expected
    // total (its calls dominate the run, and the reader runs ahead of them).
    double eta = -1;
    if (remote && mp.expected > 0 && items > 0) {
        eta = std::max(
            0.0, double(mp.expected - std::min(mp.expected, items)) * seconds / double(items));
    } else if (!remote && frac > 0) {
        eta = seconds * (1 - frac) / frac;
    }
    char eta_s[32] = "-";
    if (eta >= 0)
        std::snprintf(eta_s, sizeof eta_s, "%d:%02d", static_cast<int>(eta) / 60,
                      static_cast<int>(eta) % 60);
    if (p.bytes_total) {
        const int width = 30;
        const int fill = static_cast<int>(frac * width);
        std::fprintf(stderr, "\r[%.*s%*s] %3.0f%% %llu records %.1f MB/s ETA %s%s ", fill,
                     "##############################", width - fill, "", frac * 100,
                     static_cast<unsigned long long>(p.records), seconds > 0 ? mb / seconds : 0,
                     eta_s, extra.c_str());
    } else {
        std::fprintf(stderr, "\r%llu records %.1f MB%s ",
                     static_cast<unsigned long long>(p.records), mb, extra.c_str());
    }
    std::fflush(stderr);
}

void print_summary(const score::metric_bundle& b, const score::run_result& r,
                   std::size_t n_inputs) {
    std::fprintf(stderr, "polyglot score: %llu records scored from %zu file%s",
                 static_cast<unsigned long long>(r.num_samples), n_inputs,
                 n_inputs == 1 ? "" : "s");
    std::uint64_t skipped = 0;
    std::string reasons;
    for (const auto& [k, v] : r.skipped) {
        skipped += v;
        reasons += (reasons.empty() ? "" : ", ") + k + " " + std::to_string(v);
    }
    if (skipped)
        std::fprintf(stderr, " (%llu lines skipped: %s)", static_cast<unsigned long long>(skipped),
                     reasons.c_str());
    if (r.blank_lines)
        std::fprintf(stderr, " (%llu blank lines)", static_cast<unsigned long long>(r.blank_lines));
    for (const auto& [k, v] : r.failed)
        std::fprintf(stderr, " (%llu records %s: counted, left out of the model's metrics)",
                     static_cast<unsigned long long>(v), k.c_str());
    std::fprintf(stderr, " in %.2f s\n", r.elapsed_seconds);
    struct shown {
        std::string_view metric;
        std::string_view label;
        std::string_view key;
    };
    static constexpr shown keys[] = {
        {"length", "prompt tokens (mean)", "prompts_average_length"},
        {"length", "response tokens (mean)", "responses_average_length"},
        {"lexical", "response distinct-1", "responses_distinct_1"},
        {"lexical", "response distinct-2", "responses_distinct_2"},
        {"language", "responses in target language", "responses_target_lang_rate"},
        {"language", "prompts in target language", "prompts_target_lang_rate"},
        {"distinct_ri", "prompt distinct-RI", "prompts_distinct_ri"},
        {"distinct_ri", "response distinct-RI", "responses_distinct_ri"},
        {"perplexity", "average perplexity", "average_perplexity"},
        {"perplexity", "bits per byte", "bits_per_byte"},
        {"reward_model", "rubric score (mean)", "average_rubric_score"},
        {"reward_model", "invalid judgements", "num_invalid"},
        {"reward_model", "judge re-asks", "num_retries"},
    };
    for (std::size_t k = 0; k < b.metrics.size(); ++k) {
        const std::string js = section_json(b, r, k);
        for (const auto& s : keys)
            if (s.metric == b.metrics[k]->name()) {
                const double v = find_number(js, s.key);
                if (std::isnan(v))
                    std::fprintf(stderr, "  %-30s -\n", std::string(s.label).c_str());
                else
                    std::fprintf(stderr, "  %-30s %.4g\n", std::string(s.label).c_str(), v);
            }
    }
}

/// Which block of the input this process scores.
struct shard_choice {
    bool set = false;
    std::uint32_t index = 0, count = 1;  // index 0-based
};

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

/// "K/N" (1-based K, as `split -n K/N`) or "slurm": K and N from the job array
/// (SLURM_ARRAY_TASK_ID relative to SLURM_ARRAY_TASK_MIN and _STEP, SLURM_ARRAY_TASK_COUNT).
shard_choice parse_shard(const std::string& arg) {
    shard_choice c;
    c.set = true;
    if (arg == "slurm") {
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

/// The per-instance output: atomic, with a running CRC-32; resumable (a fixed partial file
/// kept across crashes) when the run checkpoints or runs under MPI.
class instance_sink {
  public:
    /// A plain atomic output.
    explicit instance_sink(const std::string& path) : out_(path) {}
    /// A resumable one: the first @p keep bytes of @p partial must have CRC @p crc.
    instance_sink(const std::string& path, const std::string& partial, std::uint64_t keep,
                  std::uint32_t crc)
        : out_(path, partial, checked_prefix(partial, keep, crc)), crc_(crc) {}

    void write(std::string_view s) {
        out_.write(s);
        crc_ = io::crc32(crc_, s);
    }
    void sync() { out_.sync(); }
    void commit() { out_.commit(); }
    [[nodiscard]] std::uint64_t size() const noexcept { return out_.size(); }
    [[nodiscard]] std::uint32_t crc() const noexcept { return crc_; }
    [[nodiscard]] const std::filesystem::path& temp_path() const noexcept {
        return out_.temp_path();
    }

  private:
    static std::uint64_t checked_prefix(const std::string& partial, std::uint64_t keep,
                                        std::uint32_t crc) {
        if (keep == 0) return 0;
        std::FILE* f = std::fopen(partial.c_str(), "rb");
        if (!f)
            throw io_error("cannot resume: " + partial +
                           " (per-instance output so far) is missing");
        std::string buf(std::size_t{1} << 20, '\0');
        std::uint64_t left = keep;
        std::uint32_t c = 0;
        while (left > 0) {
            const std::size_t n =
                std::fread(buf.data(), 1, std::min<std::uint64_t>(left, buf.size()), f);
            if (n == 0) break;
            c = io::crc32(c, std::string_view(buf.data(), n));
            left -= n;
        }
        std::fclose(f);
        if (left > 0 || c != crc)
            throw io_error("cannot resume: " + partial +
                           " is not the per-instance output the checkpoint recorded (" +
                           (left > 0 ? "shorter" : "different content") + ")");
        return keep;
    }

    io::atomic_ofstream out_;
    std::uint32_t crc_ = 0;
};

/// Streams a file in 4 MiB pieces (empty at the end).
std::function<std::string()> file_pieces(const std::filesystem::path& p) {
    auto f = std::shared_ptr<std::FILE>(std::fopen(p.c_str(), "rb"), [](std::FILE* x) {
        if (x) std::fclose(x);
    });
    if (!f) throw io_error("cannot open " + p.string());
    return [f]() {
        std::string b(std::size_t{4} << 20, '\0');
        b.resize(std::fread(b.data(), 1, b.size(), f.get()));
        return b;
    };
}

/// Under MPI, ranks on one node share its devices: local rank R uses device R mod D of the
/// backend that will serve the models, when that backend has several devices (D > 1); else
/// -1 (the backend's default). Not yet validated on a multi-GPU node.
int device_for_local_rank(const score::metric_config& cfg, int local_rank) {
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

int score_main(int argc, char** argv, world& wd) {
    std::vector<std::string> inputs;
    std::string metrics_csv = "length,lexical,language";
    std::string report_path = "-", per_instance_path, teacher;
    std::string shard_arg, state_out, checkpoint_path;
    std::uint64_t checkpoint_every = 0;
    double checkpoint_seconds = 0;
    std::size_t threads = 0;
    std::uint64_t limit = 0;
    score::metric_config cfg;
    score::run_options ropts;
    bool strict = false, quiet = false, resume = false;
    std::string judge_format = "json";
    int invalid_as = 0;

    po::options_description desc(
        "polyglot score FILE... [options]\n\n"
        "Intrinsic metrics of SFT datasets (JSONL: prompt/response fields or a messages list).\n"
        "Writes one report over all FILEs: plain, gzip or zstd files (recognised by content), "
        "directories (their *.jsonl[.gz|.zst] files), quoted glob patterns, '-' = standard "
        "input.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("lang", po::value(&ropts.jsonl.lang), "target language of every record (default: the "
            "record's `language` / `target_lang` field)")
        ("teacher", po::value(&teacher), "teacher model name recorded in the report metadata")
        ("metrics", po::value(&metrics_csv)->default_value(metrics_csv),
            "comma-separated: length, lexical, language, distinct_ri (needs --embedder), "
            "perplexity (needs --lm), rubric (needs --judge), or all (every metric whose model "
            "is given)")
        ("tokenizer", po::value(&cfg.tokenizer)->default_value(cfg.tokenizer),
            "tokenizer for length/lexical: cl100k_base, o200k_base, a tiktoken table file or a "
            "Hugging Face tokenizer")
        ("lid-model", po::value(&cfg.lid_model)->default_value(cfg.lid_model),
            "fastText language-ID model (name in the data directory or a path)")
        ("embedder", po::value(&cfg.embedder), "embedding model for distinct_ri: fasttext:PATH, "
            "DIR, DIR:mean, DIR:last, or a server URL#MODEL")
        ("lm", po::value(&cfg.lm), "causal LM for perplexity: a directory (Hugging Face "
            "layout) or a server URL#MODEL (vLLM, SGLang, TGI, polyglot serve)")
        ("judge", po::value(&cfg.judge), "judge model for the rubric metric: a model directory "
            "or URL#MODEL")
        ("judge-format", po::value(&judge_format)->default_value(judge_format),
            "rubric: json (output constrained to {\"feedback\": …, \"score\": 1..5}) or "
            "prometheus (\"… [RESULT] N\", parsed as prometheus-eval)")
        ("judge-retries", po::value(&cfg.judge_options.retries)->default_value(
            cfg.judge_options.retries), "rubric: re-ask an invalid judgement up to N times")
        ("invalid-as", po::value(&invalid_as), "rubric: count records without a valid "
            "judgement as score N (1..5) in the average (the paper: 1); default: leave them out")
        ("judge-max-new-tokens", po::value(&cfg.judge_options.max_new_tokens)->default_value(
            cfg.judge_options.max_new_tokens), "rubric: token budget of one judgement")
        ("judge-temperature", po::value(&cfg.judge_options.temperature)->default_value(
            cfg.judge_options.temperature, "1.0"), "rubric: sampling temperature (0 = greedy)")
        ("judge-top-p", po::value(&cfg.judge_options.top_p)->default_value(
            cfg.judge_options.top_p, "0.9"), "rubric: nucleus sampling")
        ("seed", po::value(&cfg.judge_options.seed)->default_value(0), "rubric: sampling seed")
        ("chat-template", po::value(&cfg.backend.chat_template), "rubric: a Jinja chat "
            "template file for the judge (default: the model's own)")
        ("max-tokens", po::value(&cfg.backend.max_tokens)->default_value(cfg.backend.max_tokens),
            "perplexity: truncate longer prompt+response inputs (from the prompt's left)")
        ("threads", po::value(&threads)->default_value(0), "worker threads (0 = all cores)")
        ("limit", po::value(&limit)->default_value(0), "score at most N records (0 = all)")
        ("output,o", po::value(&report_path)->default_value("-"), "report JSON path ('-' = stdout)")
        ("per-instance", po::value(&per_instance_path), "per-record values, JSONL in input order")
        ("shard", po::value(&shard_arg), "score only block K of N of the input lines "
            "(numbered across all files; K/N with K from 1, or 'slurm' for the job array's "
            "task) and save the state with --state-out; combine with polyglot merge")
        ("state-out", po::value(&state_out), "save the run's exact state (counters and metric "
            "states) to FILE for polyglot merge")
        ("checkpoint-every", po::value(&checkpoint_every)->default_value(0),
            "save a checkpoint every N scored records (0 = off)")
        ("checkpoint-seconds", po::value(&checkpoint_seconds)->default_value(0),
            "save a checkpoint every S seconds (0 = off)")
        ("checkpoint", po::value(&checkpoint_path), "checkpoint file (default: the --state-out "
            "or -o path + .checkpoint)")
        ("resume", po::bool_switch(&resume), "continue from the checkpoint if there is one "
            "(else start); the report equals an uninterrupted run's")
        ("strict", po::bool_switch(&strict), "stop with an error at the first bad record")
        ("quiet,q", po::bool_switch(&quiet), "no summary, warnings or progress on stderr")
        ("prompt-field", po::value(&ropts.jsonl.prompt_field)->default_value("prompt"),
            "JSON field holding the prompt")
        ("response-field", po::value(&ropts.jsonl.response_field)->default_value("response"),
            "JSON field holding the response")
        ("max-line-bytes", po::value(&ropts.jsonl.max_line_bytes)->default_value(
            ropts.jsonl.max_line_bytes), "longer lines are skipped (line_too_long)");
    // clang-format on
    backend_cli bcli;
    bcli.add(desc, cfg.backend);
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&inputs), vm)) return 0;
    if (inputs.empty()) throw argument_error("no input file (see polyglot score --help)");
    if (report_path == "-" && per_instance_path == "-")
        throw argument_error("--output and --per-instance cannot both be standard output");
    if (ropts.jsonl.max_line_bytes == 0) throw argument_error("--max-line-bytes must be > 0");
    inputs = io::expand_inputs(inputs);
    const bool has_stdin = std::find(inputs.begin(), inputs.end(), "-") != inputs.end();

    shard_choice shard;
    if (!shard_arg.empty()) {
        if (wd.distributed())
            throw argument_error("--shard: under mpirun every rank already scores its own shard");
        shard = parse_shard(shard_arg);
        if (state_out.empty())
            throw argument_error("--shard " + shard_arg +
                                 " saves this shard's work with --state-out FILE (then polyglot "
                                 "merge); give --state-out");
    } else if (wd.distributed()) {
        shard = {true, static_cast<std::uint32_t>(wd.rank()),
                 static_cast<std::uint32_t>(wd.size())};
    }
    if (shard.set && limit)
        throw argument_error(
            "--limit counts records from the start of the whole input; it "
            "cannot be combined with shards");
    const bool checkpointing = checkpoint_every > 0 || checkpoint_seconds > 0 || resume;
    if (checkpoint_seconds < 0) throw argument_error("--checkpoint-seconds must be >= 0");
    if (checkpointing && has_stdin)
        throw argument_error(
            "checkpoints and --resume need files: standard input ('-') cannot "
            "be read again");
    if ((checkpointing || wd.distributed()) && per_instance_path == "-")
        throw argument_error("--per-instance -: a checkpointed or MPI run needs a file");
    if (checkpointing && checkpoint_path.empty()) {
        const std::string base = !state_out.empty()   ? state_out
                                 : report_path != "-" ? report_path
                                                      : std::string();
        if (base.empty())
            throw argument_error(
                "checkpoints: give --checkpoint FILE (or -o / --state-out, "
                "beside which it goes)");
        checkpoint_path = base + ".checkpoint";
    }
    const std::string rank_suffix = wd.distributed() ? ".rank-" + std::to_string(wd.rank()) : "";
    if (!checkpoint_path.empty()) checkpoint_path += rank_suffix;
    // A shard started with --shard writes a report only when asked to (-o), and it covers only
    // that shard; under MPI rank 0 writes the whole run's report.
    const bool write_report =
        wd.distributed() ? wd.rank() == 0 : !shard.set || !vm["output"].defaulted();

    bcli.finish(cfg.backend);
    cfg.backend.threads = threads;
    cfg.judge_options.format = judge::parse_format(judge_format);
    if (vm.count("invalid-as")) {
        if (invalid_as < 1 || invalid_as > 5) throw argument_error("--invalid-as must be 1..5");
        cfg.invalid_as = invalid_as;
    }
    // Constrained decoding needs room for the shortest judgement, {"feedback":"","score":1}.
    if (cfg.judge_options.format == judge::judge_format::json &&
        cfg.judge_options.max_new_tokens < 25)
        throw argument_error(
            "--judge-max-new-tokens must be at least 25 with --judge-format json (the shortest "
            "judgement, {\"feedback\":\"\",\"score\":1}, has 25 characters)");
    if (cfg.judge_options.max_new_tokens == 0)
        throw argument_error("--judge-max-new-tokens must be > 0");
    cfg.names = score::parse_metric_list(metrics_csv, !cfg.embedder.empty(), !cfg.lm.empty(),
                                         !cfg.judge.empty());
    if (wd.distributed() && (!cfg.lm.empty() || !cfg.embedder.empty()))
        cfg.backend.device = device_for_local_rank(cfg, wd.local_rank());

    parallel::thread_limit limit_threads(threads);
    const std::size_t nthreads = threads ? threads : parallel::default_concurrency();
    auto bundle = score::make_metrics(cfg);

    ropts.inputs = inputs;
    ropts.limit = limit;
    ropts.strict = strict;
    ropts.tokens = 4 * nthreads;
    ropts.checkpoint_records = checkpoint_every;
    ropts.checkpoint_seconds = checkpoint_seconds;

    const bool need_state = checkpointing || shard.set || !state_out.empty();
    score::state_header header;
    if (need_state) header = score::make_header(cfg, bundle, ropts, teacher);
    score::shard_spec spec;
    if (shard.set) {
        spec = score::plan_shard(ropts, shard.index, shard.count, ropts.file_lines);
        ropts.first_line = spec.line_begin;
        ropts.end_line = spec.line_end;
    }

    // Resume from a checkpoint.
    std::optional<score::run_result> start;
    score::saved_state ck;
    bool have_ck = false;
    if (resume && std::filesystem::exists(checkpoint_path)) {
        ck = score::read_state(checkpoint_path);
        have_ck = true;
        const std::string d = score::header_difference(ck.header, header);
        if (!d.empty())
            throw argument_error("cannot resume from " + checkpoint_path +
                                 ": it was written by a run with other options or inputs (" + d +
                                 "); delete it to start again");
        if (!(ck.shard == spec))
            throw argument_error("cannot resume from " + checkpoint_path +
                                 ": it belongs to shard " + std::to_string(ck.shard.index + 1) +
                                 "/" + std::to_string(ck.shard.count));
        if (ck.per_instance_path != per_instance_path)
            throw argument_error("cannot resume from " + checkpoint_path +
                                 ": its per-instance output is '" + ck.per_instance_path +
                                 "', this run's '" + per_instance_path + "'");
        start = score::restore(ck, bundle, checkpoint_path);
        ropts.first_line = ck.counters.next_line;
        if (!quiet)
            std::fprintf(stderr, "polyglot score: resuming from %s (%llu records scored)\n",
                         checkpoint_path.c_str(),
                         static_cast<unsigned long long>(ck.counters.num_samples));
    } else if (resume && !quiet) {
        std::fprintf(stderr, "polyglot score: no checkpoint at %s: starting from the beginning\n",
                     checkpoint_path.c_str());
    }

    score::run_hooks hooks;
    std::size_t n_skip_msgs = 0, n_fail_msgs = 0;
    std::mutex err_mutex;  // skips/failures come from the merge stage, progress from two stages
    const bool show_progress = !quiet && stderr_is_tty() && !wd.distributed();
    hooks.on_skip = [&](const std::string& m) {
        std::lock_guard lock(err_mutex);
        if (!quiet && n_skip_msgs < max_skip_messages) {
            if (show_progress) std::fprintf(stderr, "\r\033[K");
            std::fprintf(stderr, "polyglot score: warning: skipped %s\n", m.c_str());
        }
        ++n_skip_msgs;
    };
    hooks.on_failure = [&](const std::string& m) {
        std::lock_guard lock(err_mutex);
        if (!quiet && n_fail_msgs < max_skip_messages) {
            if (show_progress) std::fprintf(stderr, "\r\033[K");
            std::fprintf(stderr, "polyglot score: warning: %s\n", m.c_str());
        }
        ++n_fail_msgs;
    };
    const auto t0 = std::chrono::steady_clock::now();
    auto last = t0;
    score::progress file_progress;
    for (const auto& in : inputs) {  // the bar's total before the first chunk is merged
        std::error_code ec;
        if (in != "-" && std::filesystem::is_regular_file(in, ec))
            file_progress.bytes_total += std::filesystem::file_size(in, ec);
    }
    model_progress mp;
    if (show_progress && (is_url_spec(cfg.lm) || is_url_spec(cfg.embedder))) {
        // Items the remote models will be asked for: one per record for the LM, the prompt and
        // the response for the embedder (records that turn out bad are fewer, not more).
        const std::uint64_t lines = count_lines(inputs);
        const std::uint64_t per = (bundle.lm ? 1 : 0) + (bundle.emb ? 2 : 0);
        mp.expected = limit ? std::min<std::uint64_t>(lines, limit) * per : lines * per;
    }
    if (show_progress) {
        auto draw = [&] {
            auto now = std::chrono::steady_clock::now();
            if (now - last < std::chrono::milliseconds(200)) return;
            last = now;
            print_progress(file_progress, mp, bundle,
                           std::chrono::duration<double>(now - t0).count());
        };
        hooks.on_progress = [&, draw](const score::progress& p) {
            std::lock_guard lock(err_mutex);
            file_progress = p;
            mp.finished_calls_done += mp.done;  // the chunk's model call is over
            mp.done = mp.total = 0;
            draw();
        };
        hooks.on_model_progress = [&, draw](std::uint64_t done, std::uint64_t total,
                                            std::uint64_t tokens) {
            std::lock_guard lock(err_mutex);
            if (done < mp.done) mp.finished_calls_done += mp.done;  // a new call began
            if (tokens < mp.call_tokens) mp.tokens += mp.call_tokens;
            mp.done = done;
            mp.total = total;
            mp.call_tokens = tokens;
            draw();
        };
    }

    // Per-instance output. A finished checkpoint whose output was already renamed into place
    // (killed just before the checkpoint was removed) has nothing left to write.
    std::optional<instance_sink> inst;
    bool instances_done = false;
    const bool resumable_instances = checkpointing || wd.distributed();
    const std::string partial = per_instance_path + rank_suffix + ".partial";
    if (!per_instance_path.empty()) {
        if (have_ck && ck.complete && !std::filesystem::exists(partial) &&
            std::filesystem::exists(per_instance_path) &&
            std::filesystem::file_size(per_instance_path) == ck.per_instance_bytes) {
            instances_done = true;
        } else if (resumable_instances) {
            inst.emplace(per_instance_path, partial, have_ck ? ck.per_instance_bytes : 0,
                         have_ck ? ck.per_instance_crc : 0);
        } else {
            inst.emplace(per_instance_path);
        }
        if (inst) hooks.per_instance = [&](std::string_view s) { inst->write(s); };
    }

    // Who computes the model values in this run (and, resumed, in the runs before it).
    std::vector<std::string> backends;
    if (bundle.emb) backends.push_back(bundle.emb->identity("embedding_model").json());
    if (bundle.lm) backends.push_back(bundle.lm->identity("base_model").json());
    if (bundle.judge) backends.push_back(bundle.judge->identity("judge_model").json());
    add_backends(backends, have_ck ? ck.backends : std::vector<std::string>());

    // A saved state of the run so far.
    auto snapshot = [&](const score::run_result& res, std::uint64_t next_line, bool complete) {
        score::saved_state st = score::capture(res, bundle);
        st.header = header;
        st.shard = spec;
        st.complete = complete;
        st.counters.next_line = next_line;
        st.per_instance_path = per_instance_path;
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
    };
    if (checkpointing)
        hooks.on_checkpoint = [&](const score::run_result& res, std::uint64_t next_line) {
            score::write_state(checkpoint_path, snapshot(res, next_line, false));
        };

    auto res = score::run(ropts, bundle, hooks, start ? &*start : nullptr);
    if (show_progress) std::fprintf(stderr, "\r\033[K");

    score::saved_state final_state;
    if (need_state || wd.distributed()) {
        final_state = snapshot(res, res.next_line, true);
        // From here a kill resumes straight to the end: nothing is scored twice.
        if (checkpointing) score::write_state(checkpoint_path, final_state);
    }

    report_info info;
    info.inputs = inputs;
    info.teacher = teacher;
    info.lang = ropts.jsonl.lang;
    info.tool_version = POLYGLOT_VERSION_STRING;
    info.threads = nthreads;
    info.backends = backends;
    if (shard.set && !wd.distributed())
        info.shard = std::to_string(shard.index + 1) + "/" + std::to_string(shard.count);

    if (wd.distributed()) {
        // Rank 0 gathers every rank's state and per-instance output, in rank order.
        auto states = wd.gather(score::encode_state(final_state));
        if (wd.rank() == 0) {
            std::vector<score::named_state> named;
            for (std::size_t r = 0; r < states.size(); ++r)
                named.push_back({"rank " + std::to_string(r),
                                 score::decode_state(states[r], "rank " + std::to_string(r))});
            const double wall = res.elapsed_seconds;
            for (const auto& n : named) add_backends(info.backends, n.state.backends);
            res = score::merge_states(named, bundle);
            res.elapsed_seconds = wall;
            if (inst) {
                io::atomic_ofstream out(per_instance_path);
                auto own = file_pieces(inst->temp_path());
                for (std::string b = own(); !b.empty(); b = own()) out.write(b);
                for (int r = 1; r < wd.size(); ++r)
                    wd.receive_stream(r, [&](std::string_view b) { out.write(b); });
                out.commit();
            }
            if (!state_out.empty()) {
                score::saved_state whole = score::capture(res, bundle);
                whole.header = header;
                whole.complete = true;
                whole.backends = info.backends;
                whole.per_instance_path = per_instance_path;
                if (!per_instance_path.empty()) {
                    whole.per_instance_bytes = std::filesystem::file_size(per_instance_path);
                    whole.per_instance_crc = 0;
                    auto all = file_pieces(per_instance_path);
                    for (std::string b = all(); !b.empty(); b = all())
                        whole.per_instance_crc = io::crc32(whole.per_instance_crc, b);
                }
                score::write_state(state_out, whole);
            }
        } else if (inst) {
            wd.send_stream(file_pieces(inst->temp_path()));
        }
        wd.all(true);  // every rank's output is in place before the partial files go
        std::error_code ec;
        if (inst) std::filesystem::remove(inst->temp_path(), ec);
    } else {
        if (!state_out.empty()) score::write_state(state_out, final_state);
        if (inst) inst->commit();
    }
    if (write_report) write_output(report_path, render_report(info, bundle, res));
    if (checkpointing) {
        std::error_code ec;
        std::filesystem::remove(checkpoint_path, ec);
    }

    if (!quiet && write_report) {
        if (n_skip_msgs > max_skip_messages)
            std::fprintf(stderr, "polyglot score: ... and %zu more skipped lines\n",
                         n_skip_msgs - max_skip_messages);
        if (n_fail_msgs > max_skip_messages)
            std::fprintf(stderr, "polyglot score: ... and %zu more failed records\n",
                         n_fail_msgs - max_skip_messages);
        print_summary(bundle, res, inputs.size());
    }
    return 0;
}

int run_score(int argc, char** argv) {
    world& wd = world::get();
    if (!wd.distributed()) return score_main(argc, argv, wd);
    // Under MPI an error on one rank must end the whole job (the others may be waiting).
    int rc = 0;
    try {
        rc = score_main(argc, argv, wd);
    } catch (const std::exception& e) {
        const auto* pe = dynamic_cast<const error*>(&e);
        std::fprintf(stderr, "polyglot score (rank %d): error: %s\n", wd.rank(), e.what());
        wd.abort(pe && pe->code() == errc::invalid_argument ? 2 : 1);
    }
    wd.finalize();
    return rc;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("score", "intrinsic metrics of SFT datasets (report JSON)", run_score);

}  // namespace polyglot::cli
