// SPDX-License-Identifier: Apache-2.0
// polyglot score: intrinsic metrics of SFT datasets (product.md §3), report JSON + per-instance.
// Parses the options, runs a score::job (the library does the work: shards, checkpoints, MPI
// ranks through world.hpp, outputs) and prints warnings, progress and the summary.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <polyglot/core/error.hpp>
#include <polyglot/judge/rubric.hpp>
#include <polyglot/plugin/model_spec.hpp>
#include <polyglot/score/job.hpp>
#include <polyglot/score/metric_registry.hpp>
#include <polyglot/score/report.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"
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
    const double v = score::find_number(info, key);
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
    // The summary lines of each metric come from the metric registry.
    for (std::size_t k = 0; k < b.metrics.size(); ++k) {
        const score::metric_entry* e = score::find_metric(b.metrics[k]->name());
        if (!e) continue;
        const std::string js = score::section_json(b, r, k);
        for (const auto& c : e->summary) {
            const double v = score::find_number(js, c.key);
            if (std::isnan(v))
                std::fprintf(stderr, "  %-30s -\n", std::string(c.label).c_str());
            else
                std::fprintf(stderr, "  %-30s %.4g\n", std::string(c.label).c_str(), v);
        }
    }
}

/// The options of `polyglot score`, bound to @p o and the few the CLI keeps itself.
po::options_description score_options(score::job_options& o, std::string& judge_format,
                                      int& invalid_as, bool& quiet) {
    po::options_description desc(
        "polyglot score FILE... [options]\n\n"
        "Intrinsic metrics of SFT datasets (JSONL: prompt/response fields or a messages list).\n"
        "Writes one report over all FILEs: plain, gzip or zstd files (recognised by content), "
        "directories (their *.jsonl[.gz|.zst] files), quoted glob patterns, '-' = standard "
        "input.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("lang", po::value(&o.jsonl.lang), "target language of every record (default: the "
            "record's `language` / `target_lang` field)")
        ("teacher", po::value(&o.teacher), "teacher model name recorded in the report metadata")
        ("metrics", po::value(&o.metrics)->default_value(o.metrics),
            "comma-separated: length, lexical, language, distinct_ri (needs --embedder), "
            "perplexity (needs --lm), reward_model (or rubric; needs --judge), or all (every "
            "metric whose model is given)")
        ("tokenizer", po::value(&o.config.tokenizer)->default_value(o.config.tokenizer),
            "tokenizer for length/lexical: cl100k_base, o200k_base, a tiktoken table file or a "
            "Hugging Face tokenizer")
        ("lid-model", po::value(&o.config.lid_model)->default_value(o.config.lid_model),
            "fastText language-ID model (name in the data directory or a path)")
        ("embedder", po::value(&o.config.embedder), "embedding model for distinct_ri: fasttext:PATH, "
            "DIR, DIR:mean, DIR:last, or a server URL#MODEL")
        ("lm", po::value(&o.config.lm), "causal LM for perplexity: a directory (Hugging Face "
            "layout) or a server URL#MODEL (vLLM, SGLang, TGI, polyglot serve)")
        ("judge", po::value(&o.config.judge), "judge model for the rubric metric: a model directory "
            "or URL#MODEL")
        ("judge-format", po::value(&judge_format)->default_value(judge_format),
            "rubric: json (output constrained to {\"feedback\": …, \"score\": 1..5}) or "
            "prometheus (\"… [RESULT] N\", parsed as prometheus-eval)")
        ("judge-retries", po::value(&o.config.judge_options.retries)->default_value(
            o.config.judge_options.retries), "rubric: re-ask an invalid judgement up to N times")
        ("invalid-as", po::value(&invalid_as), "rubric: count records without a valid "
            "judgement as score N (1..5) in the average (the paper: 1); default: leave them out")
        ("judge-max-new-tokens", po::value(&o.config.judge_options.max_new_tokens)->default_value(
            o.config.judge_options.max_new_tokens), "rubric: token budget of one judgement")
        ("judge-temperature", po::value(&o.config.judge_options.temperature)->default_value(
            o.config.judge_options.temperature, "1.0"), "rubric: sampling temperature (0 = greedy)")
        ("judge-top-p", po::value(&o.config.judge_options.top_p)->default_value(
            o.config.judge_options.top_p, "0.9"), "rubric: nucleus sampling")
        ("seed", po::value(&o.config.judge_options.seed)->default_value(0), "rubric: sampling seed")
        ("chat-template", po::value(&o.config.backend.chat_template), "rubric: a Jinja chat "
            "template file for the judge (default: the model's own)")
        ("max-tokens", po::value(&o.config.backend.max_tokens)->default_value(o.config.backend.max_tokens),
            "perplexity: truncate longer prompt+response inputs (from the prompt's left)")
        ("parse-special", po::bool_switch(&o.config.backend.parse_special), "perplexity and "
            "embeddings: read special tokens written in the records (e.g. a literal "
            "<end_of_turn>) as control tokens; default: they are text (the report says which)")
        ("threads", po::value(&o.threads)->default_value(0), "worker threads (0 = all cores)")
        ("limit", po::value(&o.limit)->default_value(0), "score at most N records (0 = all)")
        ("output,o", po::value(&o.report_path)->default_value("-"), "report JSON path ('-' = stdout)")
        ("per-instance", po::value(&o.per_instance_path), "per-record values, JSONL in input order")
        ("shard", po::value(&o.shard), "score only block K of N of the input lines "
            "(numbered across all files; K/N with K from 1, or 'slurm' for the job array's "
            "task) and save the state with --state-out; combine with polyglot merge")
        ("state-out", po::value(&o.state_out), "save the run's exact state (counters and metric "
            "states) to FILE for polyglot merge")
        ("checkpoint-every", po::value(&o.checkpoint_every)->default_value(0),
            "save a checkpoint every N scored records (0 = off)")
        ("checkpoint-seconds", po::value(&o.checkpoint_seconds)->default_value(0),
            "save a checkpoint every S seconds (0 = off)")
        ("checkpoint", po::value(&o.checkpoint_path), "checkpoint file (default: the --state-out "
            "or -o path + .checkpoint)")
        ("resume", po::bool_switch(&o.resume), "continue from the checkpoint if there is one "
            "(else start); the report equals an uninterrupted run's")
        ("strict", po::bool_switch(&o.strict), "stop with an error at the first bad record")
        ("quiet,q", po::bool_switch(&quiet), "no summary, warnings or progress on stderr")
        ("prompt-field", po::value(&o.jsonl.prompt_field)->default_value("prompt"),
            "JSON field holding the prompt")
        ("response-field", po::value(&o.jsonl.response_field)->default_value("response"),
            "JSON field holding the response")
        ("max-line-bytes", po::value(&o.jsonl.max_line_bytes)->default_value(
            o.jsonl.max_line_bytes), "longer lines are skipped (line_too_long)");
    // clang-format on
    return desc;
}

/// The live progress line (stderr on a terminal, one process): the reader's bytes and records,
/// and a remote model's requests.
struct progress_line {
    progress_line(std::mutex& m, const score::metric_bundle& b) : err_mutex(m), bundle(b) {}
    std::mutex& err_mutex;
    const score::metric_bundle& bundle;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now(), last = t0;
    score::progress file_progress;
    model_progress mp;

    void draw() {
        auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::milliseconds(200)) return;
        last = now;
        print_progress(file_progress, mp, bundle, std::chrono::duration<double>(now - t0).count());
    }
    void attach(score::run_hooks& hooks) {
        hooks.on_progress = [this](const score::progress& p) {
            std::lock_guard lock(err_mutex);
            file_progress = p;
            mp.finished_calls_done += mp.done;  // the chunk's model call is over
            mp.done = mp.total = 0;
            draw();
        };
        hooks.on_model_progress = [this](std::uint64_t done, std::uint64_t total,
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
};

int score_main(int argc, char** argv, world& wd) {
    score::job_options o;
    std::string judge_format = "json";
    int invalid_as = 0;
    bool quiet = false;
    po::options_description desc = score_options(o, judge_format, invalid_as, quiet);
    backend_cli bcli;
    bcli.add(desc, o.config.backend);
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&o.inputs), vm)) return 0;
    if (o.inputs.empty()) throw argument_error("no input file (see polyglot score --help)");
    o.report_requested = !vm["output"].defaulted();
    bcli.finish(o.config.backend);
    o.config.judge_options.format = judge::parse_format(judge_format);
    if (vm.count("invalid-as")) o.config.invalid_as = invalid_as;
    const std::uint64_t limit = o.limit;
    const std::string report_path = o.report_path;
    const bool remote_models = is_url_spec(o.config.lm) || is_url_spec(o.config.embedder);

    score::job job(std::move(o), &wd);
    const score::metric_bundle& bundle = job.bundle();
    const std::vector<std::string>& inputs = job.inputs();

    score::job_events ev;
    score::run_hooks& hooks = ev.run;
    std::size_t n_skip_msgs = 0, n_fail_msgs = 0;
    std::mutex err_mutex;  // skips/failures come from the merge stage, progress from two stages
    bool show_progress = !quiet && stderr_is_tty() && !wd.distributed();
    auto clear_progress = [&] {
        if (show_progress) std::fprintf(stderr, "\r\033[K");
    };
    hooks.on_skip = [&](const std::string& m) {
        std::lock_guard lock(err_mutex);
        if (!quiet && n_skip_msgs < max_skip_messages) {
            clear_progress();
            std::fprintf(stderr, "polyglot score: warning: skipped %s\n", m.c_str());
        }
        ++n_skip_msgs;
    };
    hooks.on_failure = [&](const std::string& m) {
        std::lock_guard lock(err_mutex);
        if (!quiet && n_fail_msgs < max_skip_messages) {
            clear_progress();
            std::fprintf(stderr, "polyglot score: warning: %s\n", m.c_str());
        }
        ++n_fail_msgs;
    };
    ev.on_notice = [&](const std::string& m) {
        if (!quiet) std::fprintf(stderr, "polyglot score: %s\n", m.c_str());
    };
    progress_line bar(err_mutex, bundle);
    for (const auto& in : inputs) {  // the bar's total before the first chunk is merged
        std::error_code ec;
        if (in != "-" && std::filesystem::is_regular_file(in, ec))
            bar.file_progress.bytes_total += std::filesystem::file_size(in, ec);
    }
    if (show_progress && remote_models) {
        // Items the remote models will be asked for: one per record for the LM, the prompt and
        // the response for the embedder (records that turn out bad are fewer, not more).
        const std::uint64_t lines = count_lines(inputs);
        const std::uint64_t per = (bundle.lm ? 1 : 0) + (bundle.emb ? 2 : 0);
        bar.mp.expected = limit ? std::min<std::uint64_t>(lines, limit) * per : lines * per;
    }
    if (show_progress) bar.attach(hooks);
    ev.on_report = [&](std::string_view report) {
        clear_progress();  // the run is over: the bar goes before the report is written
        show_progress = false;
        write_output(report_path, report);
    };

    auto res = job.run(ev);
    clear_progress();

    if (!quiet && job.writes_report()) {
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
