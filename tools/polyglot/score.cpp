// SPDX-License-Identifier: Apache-2.0
// polyglot score: intrinsic metrics of SFT datasets (product.md §3), report JSON + per-instance.
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/parallel/threads.hpp>
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

void print_progress(const score::progress& p, double seconds) {
    const double mb = static_cast<double>(p.bytes_done) / 1e6;
    if (p.bytes_total) {
        const double frac =
            std::min(1.0, static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total));
        const int width = 30;
        const int fill = static_cast<int>(frac * width);
        const double eta = frac > 0 ? seconds * (1 - frac) / frac : 0;
        std::fprintf(stderr, "\r[%.*s%*s] %3.0f%% %llu records %.1f MB/s ETA %d:%02d ", fill,
                     "##############################", width - fill, "", frac * 100,
                     static_cast<unsigned long long>(p.records), seconds > 0 ? mb / seconds : 0,
                     static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
    } else {
        std::fprintf(stderr, "\r%llu records %.1f MB ", static_cast<unsigned long long>(p.records),
                     mb);
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
    std::vector<std::string> plugin_dirs;
    bool strict = false, quiet = false;

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
            "perplexity (needs --lm), or all (every metric whose model is given)")
        ("tokenizer", po::value(&cfg.tokenizer)->default_value(cfg.tokenizer),
            "tokenizer for length/lexical: cl100k_base, o200k_base, a tiktoken table file or a "
            "Hugging Face tokenizer")
        ("lid-model", po::value(&cfg.lid_model)->default_value(cfg.lid_model),
            "fastText language-ID model (name in the data directory or a path)")
        ("embedder", po::value(&cfg.embedder), "embedding model for distinct_ri: fasttext:PATH, "
            "DIR, DIR:mean or DIR:last")
        ("lm", po::value(&cfg.lm), "causal LM directory (Hugging Face layout) for perplexity")
        ("backend", po::value(&cfg.backend.backend)->default_value(cfg.backend.backend),
            "model backend: cpu, cuda, metal, auto, or a plugin path")
        ("plugin-dir", po::value(&plugin_dirs), "extra directory to search for plugins "
            "(repeatable)")
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
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&inputs), vm)) return 0;
    if (inputs.empty()) throw argument_error("no input file (see polyglot score --help)");
    if (report_path == "-" && per_instance_path == "-")
        throw argument_error("--output and --per-instance cannot both be standard output");
    if (ropts.jsonl.max_line_bytes == 0) throw argument_error("--max-line-bytes must be > 0");
    for (const auto& d : plugin_dirs) cfg.backend.plugin_dirs.emplace_back(d);
    cfg.backend.threads = threads;
    cfg.names = score::parse_metric_list(metrics_csv, !cfg.embedder.empty(), !cfg.lm.empty());

    parallel::thread_limit limit_threads(threads);
    const std::size_t nthreads = threads ? threads : parallel::default_concurrency();
    auto bundle = score::make_metrics(cfg);

    ropts.inputs = inputs;
    ropts.limit = limit;
    ropts.strict = strict;
    ropts.tokens = 4 * nthreads;

    score::run_hooks hooks;
    std::size_t n_skip_msgs = 0;
    hooks.on_skip = [&](const std::string& m) {
        if (!quiet && n_skip_msgs < max_skip_messages)
            std::fprintf(stderr, "polyglot score: warning: skipped %s\n", m.c_str());
        ++n_skip_msgs;
    };
    const bool show_progress = !quiet && stderr_is_tty();
    const auto t0 = std::chrono::steady_clock::now();
    auto last = t0;
    if (show_progress)
        hooks.on_progress = [&](const score::progress& p) {
            auto now = std::chrono::steady_clock::now();
            if (now - last < std::chrono::milliseconds(200)) return;
            last = now;
            print_progress(p, std::chrono::duration<double>(now - t0).count());
        };
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
    w.kv("blank_lines", res.blank_lines);
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
        print_summary(bundle, res, inputs.size());
    }
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("score", "intrinsic metrics of SFT datasets (report JSON)", run_score);

}  // namespace polyglot::cli
