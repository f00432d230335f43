// SPDX-License-Identifier: Apache-2.0
// distinct-RI accumulator throughput: GB/s of float32 embeddings per core (one thread).
// Run: build-*/benchmarks/bench_distinct_ri --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <polyglot/metrics/distinct_ri.hpp>
#include <random>
#include <vector>

namespace {

std::vector<float> make_rows(std::size_t n, std::size_t d) {
    std::mt19937 rng(42);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> rows(n * d);
    for (auto& x : rows) x = g(rng);
    return rows;
}

// args: dim, rows per batch (the batch is re-added each iteration: 8 MiB of floats).
void bm_accumulate_f32(benchmark::State& state) {
    const auto d = static_cast<std::size_t>(state.range(0));
    const std::size_t n = (std::size_t{8} << 20) / (d * sizeof(float));
    const std::vector<float> rows = make_rows(n, d);
    polyglot::metrics::distinct_ri_accumulator acc(d);
    for (auto _ : state) {
        acc.add_rows(rows.data(), n);
        if (acc.n > polyglot::metrics::distinct_ri_accumulator::max_vectors / 2) {
            acc = polyglot::metrics::distinct_ri_accumulator(d);
        }
        benchmark::DoNotOptimize(acc.sum.data());
    }
    benchmark::DoNotOptimize(acc.value());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * d * sizeof(float)));
}
BENCHMARK(bm_accumulate_f32)->Arg(384)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond);

// Merge cost (per shard merge) and the final value.
void bm_merge_and_value(benchmark::State& state) {
    const auto d = static_cast<std::size_t>(state.range(0));
    const std::vector<float> rows = make_rows(16, d);
    polyglot::metrics::distinct_ri_accumulator a(d), b(d);
    a.add_rows(rows.data(), 16);
    b.add_rows(rows.data(), 16);
    for (auto _ : state) {
        polyglot::metrics::distinct_ri_accumulator c = a;
        c.merge(b);
        benchmark::DoNotOptimize(c.value());
    }
}
BENCHMARK(bm_merge_and_value)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();
