// SPDX-License-Identifier: Apache-2.0
// polyglot score: intrinsic metrics of SFT datasets (product.md §3), report JSON + per-instance.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/plugin/model_spec.hpp>
#include <polyglot/score/score.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"
#include "score_util.hpp"

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

int run_score(int argc, char** argv) {
    std::vector<std::string> inputs;
    std::string metrics_csv = "length,lexical,language";
    std::string report_path = "-", per_instance_path, teacher;
    std::size_t threads = 0;
    std::uint64_t limit = 0;
    score::metric_config cfg;
    score::run_options ropts;
    bool strict = false, quiet = false;
    std::string judge_format = "json";
    int invalid_as = 0;

    po::options_description desc(
        "polyglot score FILE... [options]\n\n"
        "Intrinsic metrics of SFT datasets (JSONL: prompt/response fields or a messages list).\n"
        "Writes one report over all FILEs ('-' = standard input).\n\nOptions");
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

    parallel::thread_limit limit_threads(threads);
    const std::size_t nthreads = threads ? threads : parallel::default_concurrency();
    auto bundle = score::make_metrics(cfg);

    ropts.inputs = inputs;
    ropts.limit = limit;
    ropts.strict = strict;
    ropts.tokens = 4 * nthreads;

    score::run_hooks hooks;
    std::size_t n_skip_msgs = 0, n_fail_msgs = 0;
    std::mutex err_mutex;  // skips/failures come from the merge stage, progress from two stages
    const bool show_progress = !quiet && stderr_is_tty();
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
    std::optional<io::atomic_ofstream> inst;
    if (!per_instance_path.empty()) {
        inst.emplace(per_instance_path);
        hooks.per_instance = [&](std::string_view s) { inst->write(s); };
    }

    auto res = score::run(ropts, bundle, hooks);
    if (show_progress) std::fprintf(stderr, "\r\033[K");
    if (inst) inst->commit();

    io::json_writer w(2);
    w.begin_object();
    w.key("metadata").begin_object();
    w.key("input").begin_array();
    for (const auto& in : inputs) w.value(in);
    w.end_array();
    w.kv("num_samples", res.num_samples);
    w.kv("num_records_read", res.num_records_read);
    w.key("skipped").begin_object();
    for (const auto& [k, v] : res.skipped) w.kv(k, v);
    w.end_object();
    w.key("failed").begin_object();
    for (const auto& [k, v] : res.failed) w.kv(k, v);
    w.end_object();
    auto str_or_null = [&](std::string_view k, const std::string& v) {
        w.key(k);
        if (v.empty())
            w.value(nullptr);
        else
            w.value(v);
    };
    str_or_null("teacher", teacher);
    str_or_null("target_lang", ropts.jsonl.lang.empty() ? res.target_lang() : ropts.jsonl.lang);
    w.key("metrics").begin_array();
    for (const auto& m : bundle.metrics) w.value(m->name());
    w.end_array();
    str_or_null("tokenizer", bundle.tokenizer);
    str_or_null("lid_model", bundle.lid_model);
    str_or_null("embedding_model", bundle.embedding_model);
    str_or_null("base_model", bundle.base_model);
    str_or_null("judge_model", bundle.judge_model);
    w.kv("tool_version", POLYGLOT_VERSION_STRING);
    w.kv("threads", nthreads);
    w.kv("elapsed_seconds", res.elapsed_seconds);
    w.end_object();
    score::write_sections(w, bundle, res);
    w.end_object();
    std::string report = w.take();
    report += '\n';
    write_output(report_path, report);

    if (!quiet) {
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

}  // namespace

POLYGLOT_REGISTER_COMMAND("score", "intrinsic metrics of SFT datasets (report JSON)", run_score);

}  // namespace polyglot::cli
