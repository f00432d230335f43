// SPDX-License-Identifier: Apache-2.0
// polyglot bench: throughput of ingest alone and of each metric (records/s, MB/s, tokens/s).
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/score/report.hpp>
#include <polyglot/score/score.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

struct bench_row {
    std::string name;
    std::uint64_t records = 0, bytes = 0;
    double seconds = 0;
};

int run_bench(int argc, char** argv) {
    std::string input;
    std::string metrics_csv = "length,lexical,language";
    std::size_t threads = 0;
    std::size_t repeat = 1;
    bool json = false;
    score::metric_config cfg;

    po::options_description desc(
        "polyglot bench FILE [options]\n\n"
        "Throughput of ingest alone (read + parse) and of each metric alone (plus all of them "
        "together), as records/s, MB/s and tokens/s (tokens of prompts + responses under "
        "--tokenizer). The best of --repeat runs is reported.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("metrics", po::value(&metrics_csv)->default_value(metrics_csv),
            "metrics to time (as polyglot score --metrics)")
        ("threads", po::value(&threads)->default_value(0), "worker threads (0 = all cores)")
        ("repeat", po::value(&repeat)->default_value(1), "runs per measurement (best is kept)")
        ("json", po::bool_switch(&json), "JSON output instead of a table")
        ("tokenizer", po::value(&cfg.tokenizer)->default_value(cfg.tokenizer), "tokenizer")
        ("lid-model", po::value(&cfg.lid_model)->default_value(cfg.lid_model),
            "fastText language-ID model")
        ("embedder", po::value(&cfg.embedder), "embedding model for distinct_ri (as score)")
        ("lm", po::value(&cfg.lm), "causal LM for perplexity (as score)");
    // clang-format on
    backend_cli bcli;
    bcli.add(desc, cfg.backend);
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&input), vm, 1)) return 0;
    if (input.empty()) throw argument_error("no input file (see polyglot bench --help)");
    if (repeat == 0) repeat = 1;
    bcli.finish(cfg.backend);
    const auto names =
        score::parse_metric_list(metrics_csv, !cfg.embedder.empty(), !cfg.lm.empty());

    parallel::thread_limit limit_threads(threads);
    const std::size_t nthreads = threads ? threads : parallel::default_concurrency();
    score::run_options ropts;
    ropts.inputs = {input};
    ropts.tokens = 4 * nthreads;

    auto measure = [&](const std::string& label, std::vector<std::string> which,
                       score::run_result* keep = nullptr, score::metric_bundle* keep_b = nullptr) {
        score::metric_config c = cfg;
        c.names = std::move(which);
        bench_row row{label, 0, 0, INFINITY};
        for (std::size_t i = 0; i < repeat; ++i) {
            auto b = score::make_metrics(c);  // model loading is not timed
            auto r = score::run(ropts, b, {});
            row.records = r.num_samples;
            row.bytes = r.bytes_read;
            row.seconds = std::min(row.seconds, r.elapsed_seconds);
            if (keep && i + 1 == repeat) {
                *keep = std::move(r);
                *keep_b = std::move(b);
            }
        }
        return row;
    };

    std::vector<bench_row> rows;
    rows.push_back(measure("ingest", {}));
    // Token count for tokens/s: from the length metric's report (exact integer means).
    double tokens = NAN;
    for (const auto& n : names) {
        score::run_result r;
        score::metric_bundle b;
        rows.push_back(measure(n, {n}, n == "length" ? &r : nullptr, &b));
        if (n == "length") {
            const std::string js = score::section_json(b, r, 0);
            tokens = std::round((score::find_number(js, "prompts_average_length") +
                                 score::find_number(js, "responses_average_length")) *
                                static_cast<double>(r.num_samples));
        }
    }
    if (names.size() > 1) rows.push_back(measure("all selected", names));

    auto per_s = [](double x, double s) { return s > 0 ? x / s : NAN; };
    if (json) {
        io::json_writer w(2);
        w.begin_object();
        w.kv("input", input);
        w.kv("threads", nthreads);
        w.kv("tool_version", POLYGLOT_VERSION_STRING);
        w.kv("tokens", tokens);
        w.key("results").begin_array();
        for (const auto& r : rows) {
            w.begin_object();
            w.kv("name", r.name);
            w.kv("records", r.records);
            w.kv("bytes", r.bytes);
            w.kv("seconds", r.seconds);
            w.kv("records_per_s", per_s(static_cast<double>(r.records), r.seconds));
            w.kv("mb_per_s", per_s(static_cast<double>(r.bytes) / 1e6, r.seconds));
            w.kv("tokens_per_s", per_s(tokens, r.seconds));
            w.end_object();
        }
        w.end_array();
        w.end_object();
        std::printf("%s\n", w.str().c_str());
        return 0;
    }
    std::printf("polyglot bench: %s, %zu threads, best of %zu\n", input.c_str(), nthreads, repeat);
    std::printf("%-14s %10s %10s %12s %10s %14s\n", "stage", "records", "seconds", "records/s",
                "MB/s", "tokens/s");
    for (const auto& r : rows)
        std::printf("%-14s %10llu %10.3f %12.0f %10.2f %14.0f\n", r.name.c_str(),
                    static_cast<unsigned long long>(r.records), r.seconds,
                    per_s(static_cast<double>(r.records), r.seconds),
                    per_s(static_cast<double>(r.bytes) / 1e6, r.seconds), per_s(tokens, r.seconds));
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("bench", "throughput of ingest and of each metric", run_bench);

}  // namespace polyglot::cli
