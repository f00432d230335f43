// SPDX-License-Identifier: Apache-2.0
// The cpu kernels (plugins/common/cpu_kernels) on each instruction-set path this CPU runs, one
// thread: GEMM GFLOP/s on an L2-sized weight block (the engine's tile), GEMV GB/s of weights
// (decode), log-softmax over a vocabulary, the gated activation. Baselines in the same run:
// Eigen's GEMM as the engine compiled it before (x86-64 baseline flags) and the previous
// scalar log-softmax (std::exp in double).
// Run: build/benchmarks/bench_cpu_kernels --benchmark_min_time=0.3
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/cpu_kernels/kernels.hpp"

namespace ck = polyglot::cpu_kernels;

namespace {

std::vector<float> randn(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = g(rng);
    return v;
}

std::vector<std::uint16_t> to_bf16(const std::vector<float>& v) {
    std::vector<std::uint16_t> o(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::uint32_t u;
        std::memcpy(&u, &v[i], 4);
        o[i] = std::uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16);
    }
    return o;
}

bool skip_unsupported(benchmark::State& state, ck::isa p) {
    if (ck::isa_supported(p)) return false;
    state.SkipWithError("this CPU lacks the path");
    return true;
}

// args: isa, wtype (0 f32, 1 bf16), K, columns. Rows: one L2 block (gemm_row_block).
void bm_gemm(benchmark::State& state) {
    const auto p = ck::isa(state.range(0));
    if (skip_unsupported(state, p)) return;
    const auto t = state.range(1) ? ck::wtype::bf16 : ck::wtype::f32;
    const std::ptrdiff_t k = state.range(2), n = state.range(3);
    const auto& K = ck::kernels_for(p);
    const std::ptrdiff_t rows = K.gemm_row_block(k, t);
    const auto wf = randn(std::size_t(rows * k), 1);
    const auto wb = to_bf16(wf);
    const auto x = randn(std::size_t(k * n), 2);
    std::vector<float> y(std::size_t(rows * n));
    const ck::weights_view w{t == ck::wtype::f32 ? static_cast<const void*>(wf.data()) : wb.data(),
                             t, rows, k, k};
    for (auto _ : state) {
        K.gemm(w, x.data(), k, n, y.data(), rows, nullptr, false);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(
        double(2 * rows * k * n) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.SetLabel(std::string(ck::isa_name(p)) + (t == ck::wtype::f32 ? " f32" : " bf16") +
                   " rows " + std::to_string(rows));
}

void gemm_args(benchmark::internal::Benchmark* b) {
    for (int p : {0, 1, 2})
        for (int t : {0, 1})
            for (int k : {768, 2560}) b->Args({p, t, k, 256});
}
BENCHMARK(bm_gemm)->Apply(gemm_args)->Unit(benchmark::kMicrosecond);

// The engine's previous tile: Eigen, row-major W (256 rows) × col-major X (64 columns), built
// here with the baseline flags like the engine was.
void bm_gemm_eigen_baseline(benchmark::State& state) {
    const std::ptrdiff_t k = state.range(0), rows = 256, n = 64;
    using rmat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const auto wf = randn(std::size_t(rows * k), 1);
    const auto x = randn(std::size_t(k * n), 2);
    Eigen::Map<const rmat> W(wf.data(), rows, k);
    Eigen::Map<const Eigen::MatrixXf> X(x.data(), k, n);
    Eigen::MatrixXf Y(rows, n);
    for (auto _ : state) {
        Y.noalias() = W * X;
        benchmark::DoNotOptimize(Y.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(
        double(2 * rows * k * n) * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(bm_gemm_eigen_baseline)->Arg(768)->Arg(2560)->Unit(benchmark::kMicrosecond);

// Decode: range(2) columns (1: batch 1; 16: a batch of 16 sequences) through a 5120 × 768
// weight (a 150M Llama's gate_up), weights from RAM, in the engine's row blocks
// (gemm_row_block rows per call, as plan_gemm gives each task).
void bm_gemv(benchmark::State& state) {
    const auto p = ck::isa(state.range(0));
    if (skip_unsupported(state, p)) return;
    const auto t = state.range(1) ? ck::wtype::bf16 : ck::wtype::f32;
    const std::ptrdiff_t n = state.range(2);
    const std::ptrdiff_t rows = 5120, k = 768, copies = 16;  // 16 copies: 63-126 MB, past L3
    const auto wf = randn(std::size_t(rows * k * copies), 1);
    const auto wb = t == ck::wtype::bf16 ? to_bf16(wf) : std::vector<std::uint16_t>{};
    const auto x = randn(std::size_t(k * n), 2);
    std::vector<float> y(std::size_t(rows * n));
    const auto& K = ck::kernels_for(p);
    const std::size_t esz = t == ck::wtype::f32 ? 4 : 2;
    const std::ptrdiff_t rb = K.gemm_row_block(k, t);
    std::ptrdiff_t c = 0;
    for (auto _ : state) {
        const auto* base = t == ck::wtype::f32 ? static_cast<const void*>(wf.data()) : wb.data();
        const ck::weights_view w{
            static_cast<const std::byte*>(base) + std::size_t(c * rows * k) * esz, t, rows, k, k};
        for (std::ptrdiff_t r0 = 0; r0 < rows; r0 += rb)
            K.gemm(w.slice(r0, std::min(rb, rows - r0)), x.data(), k, n, y.data() + r0, rows,
                   nullptr, false);
        benchmark::DoNotOptimize(y.data());
        c = (c + 1) % copies;
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * rows * k * std::int64_t(esz));
    state.counters["GFLOP/s"] = benchmark::Counter(
        double(2 * rows * k * n) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.SetLabel(std::string(ck::isa_name(p)) + (t == ck::wtype::f32 ? " f32" : " bf16") +
                   " columns " + std::to_string(n));
}
BENCHMARK(bm_gemv)->ArgsProduct({{0, 1, 2}, {0, 1}, {1, 16}})->Unit(benchmark::kMicrosecond);

// log softmax at one target over a vocabulary of range(1) logits.
void bm_log_softmax(benchmark::State& state) {
    const auto p = ck::isa(state.range(0));
    if (skip_unsupported(state, p)) return;
    const auto n = std::size_t(state.range(1));
    auto l = randn(n, 3);
    for (auto& v : l) v *= 4;
    ck::force_isa(p);
    for (auto _ : state) benchmark::DoNotOptimize(ck::log_softmax_at(l.data(), n, n / 2));
    state.SetItemsProcessed(std::int64_t(state.iterations() * n));
    state.SetLabel(std::string(ck::isa_name(p)));
}
BENCHMARK(bm_log_softmax)->ArgsProduct({{0, 1, 2}, {32000, 151936}})->Unit(benchmark::kMicrosecond);

// The previous formula: std::exp in double, summed in index order.
void bm_log_softmax_scalar_double(benchmark::State& state) {
    const auto n = std::size_t(state.range(0));
    auto l = randn(n, 3);
    for (auto& v : l) v *= 4;
    for (auto _ : state) {
        float mx = -INFINITY;
        for (std::size_t i = 0; i < n; ++i) mx = l[i] > mx ? l[i] : mx;
        double sum = 0;
        for (std::size_t i = 0; i < n; ++i) sum += std::exp(double(l[i]) - double(mx));
        benchmark::DoNotOptimize(float(double(l[n / 2]) - double(mx) - std::log(sum)));
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * n));
}
BENCHMARK(bm_log_softmax_scalar_double)->Arg(32000)->Arg(151936)->Unit(benchmark::kMicrosecond);

// SwiGLU over a 150M Llama's MLP width × 64 tokens.
void bm_glu_silu(benchmark::State& state) {
    const auto p = ck::isa(state.range(0));
    if (skip_unsupported(state, p)) return;
    const std::ptrdiff_t n = 2560 * 64;
    const auto g = randn(std::size_t(n), 4), u = randn(std::size_t(n), 5);
    std::vector<float> o(static_cast<std::size_t>(n));
    const auto& K = ck::kernels_for(p);
    for (auto _ : state) {
        K.glu(ck::glu::silu, g.data(), u.data(), o.data(), n);
        benchmark::DoNotOptimize(o.data());
    }
    state.SetItemsProcessed(std::int64_t(state.iterations()) * n);
    state.SetLabel(std::string(ck::isa_name(p)));
}
BENCHMARK(bm_glu_silu)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

}  // namespace
BENCHMARK_MAIN();
