// SPDX-License-Identifier: Apache-2.0
// JSONL ingest throughput: block reading + simdjson parsing into records (one thread), and the
// whole scoring pipeline with no metric (read → parse → merge) under 1 and 2 TBB threads.
// Run: build-*/benchmarks/bench_ingest --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <polyglot/io/jsonl.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/score/score.hpp>
#include <random>
#include <string>

namespace {

/// A deterministic synthetic SFT file of @p n records (~250 bytes each, some non-ASCII and
/// escapes), written once per size to the temp directory.
std::string corpus(std::size_t n) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("polyglot_bench_ingest_" + std::to_string(::getpid()) + "_" +
                       std::to_string(n) + ".jsonl");
    if (std::filesystem::exists(path)) return path.string();
    std::mt19937 rng(1234);
    const char* words[] = {"Haus",      "über",  "données", "年",      "mañana", "network",
                           "\\\"q\\\"", "línea", "Straße",  "\\u00e9", "model",  "テスト"};
    std::ofstream out(path, std::ios::binary);
    for (std::size_t i = 0; i < n; ++i) {
        std::string p, r;
        for (int k = 0; k < 8; ++k) (p += words[rng() % 12]) += ' ';
        for (int k = 0; k < 24; ++k) (r += words[rng() % 12]) += ' ';
        out << "{\"id\": \"r" << i << "\", \"prompt\": \"" << p << "\", \"response\": \"" << r
            << "\", \"language\": \"de\"}\n";
    }
    return path.string();
}

void bm_read_parse(benchmark::State& state) {
    const auto path = corpus(static_cast<std::size_t>(state.range(0)));
    const polyglot::io::jsonl_options opts;
    std::uint64_t records = 0, bytes = 0;
    for (auto _ : state) {
        polyglot::io::line_reader reader(path, 0, opts);
        polyglot::io::line_chunk chunk;
        polyglot::io::parsed_chunk parsed;
        while (reader.next(chunk)) {
            polyglot::io::parse_chunk(chunk, opts, parsed);
            records += parsed.records.size();
            bytes += chunk.bytes.size();
        }
        benchmark::DoNotOptimize(parsed.records.data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(records));
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(bm_read_parse)->Arg(20000)->Unit(benchmark::kMillisecond);

// args: records, threads. The pipeline with no metric: what ingest costs inside `score`.
void bm_pipeline_ingest(benchmark::State& state) {
    const auto path = corpus(static_cast<std::size_t>(state.range(0)));
    const auto threads = static_cast<std::size_t>(state.range(1));
    polyglot::parallel::thread_limit limit(threads);
    polyglot::score::run_options opts;
    opts.inputs = {path};
    opts.tokens = 4 * threads;
    std::uint64_t records = 0, bytes = 0;
    for (auto _ : state) {
        polyglot::score::metric_bundle none;
        auto r = polyglot::score::run(opts, none);
        records += r.num_samples;
        bytes += r.bytes_read;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(records));
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(bm_pipeline_ingest)
    ->Args({20000, 1})
    ->Args({20000, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
