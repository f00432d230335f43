// SPDX-License-Identifier: Apache-2.0
// Constrained decoding's cost per generated token on the real Gemma 3 vocabulary (262,144
// tokens): the allowed-token mask of the judge's schema (memoised per DFA state), applying it to
// the logits, advancing the automaton, and the sampler with and without the mask. Compare with
// the decode step of the model (benchmarks/README.md, "Constrained decoding").
//
//   build/benchmarks/bench_constrained [--benchmark_filter=...]
// Needs $POLYGLOT_DATA_DIR/test-assets/gemma3/tokenizer.json (scripts/fetch-test-assets).
#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <polyglot/core/paths.hpp>
#include <polyglot/plugin/services.hpp>
#include <random>
#include <vector>

#include "common/constrained/constrained.hpp"
#include "common/runtime/sampler.hpp"

namespace js = polyglot::constrained;

namespace {

const char* const judge_schema =
    R"({"type":"object","properties":{"feedback":{"type":"string"},)"
    R"("score":{"type":"integer","minimum":1,"maximum":5}},"required":["feedback","score"],)"
    R"("additionalProperties":false})";

constexpr std::size_t vocab_logits = 262208;  // Gemma 3's logit rows (≥ the tokenizer's ids)
constexpr std::uint32_t budget = 256;

struct fixture {
    std::shared_ptr<const js::constraint> c;
    std::vector<js::constraint::state> states;
    std::vector<js::token_id> tokens;
    std::vector<float> logits;
};

/// A constrained trajectory of `budget` steps as a judge writes one: feedback text (tokens
/// without a quote or backslash) for most of the budget, then whatever the mask allows until
/// the document ends (the budget forces it). Warms the memo, as a real run does after its
/// first few judgements.
const fixture& get() {
    static const fixture f = [] {
        fixture x;
        const auto path = polyglot::data_dir() / "test-assets" / "gemma3" / "tokenizer.json";
        auto vocab = js::token_vocab::from_tokenizer_json(path, {1, 106}, vocab_logits);
        x.c = js::constraint::compile(judge_schema, vocab);
        std::mt19937_64 rng(1);
        js::token_mask scratch;
        auto s = x.c->start();
        for (std::uint32_t used = 0; used < budget; ++used) {
            const auto& m = x.c->allowed(s, budget - used, scratch);
            std::vector<js::token_id> ids, text;
            m.for_each([&](js::token_id t) {
                ids.push_back(t);
                const auto b = x.c->vocab().bytes(t);
                if (!b.empty() && b.find_first_of("\"\\") == std::string_view::npos)
                    text.push_back(t);
            });
            const bool writing = used > 12 && used + 24 < budget && !text.empty();
            const auto t = writing ? text[rng() % text.size()] : ids[rng() % ids.size()];
            x.states.push_back(s);
            x.tokens.push_back(t);
            if (x.c->is_eos(t)) break;
            s = x.c->advance(s, t);
        }
        std::normal_distribution<float> nd(0.0f, 2.0f);
        x.logits.resize(vocab_logits);
        for (auto& l : x.logits) l = nd(rng);
        return x;
    }();
    return f;
}

void apply(const js::token_mask& m, std::vector<float>& logits) {
    constexpr float ninf = -std::numeric_limits<float>::infinity();
    const auto& w = m.words();
    for (std::size_t k = 0; k < w.size(); ++k) {
        std::uint64_t off = ~w[k];
        const std::size_t base = k * 64;
        if (base + 64 > logits.size()) off &= (std::uint64_t{1} << (logits.size() - base)) - 1;
        for (; off; off &= off - 1)
            logits[base + static_cast<std::size_t>(__builtin_ctzll(off))] = ninf;
    }
}

/// Mask + apply + advance, averaged over the trajectory's steps.
void BM_mask_step(benchmark::State& st) {
    const auto& f = get();
    std::vector<float> logits = f.logits;
    js::token_mask scratch;
    std::size_t k = 0;
    for (auto _ : st) {
        const auto& m = f.c->allowed(f.states[k], budget - static_cast<std::uint32_t>(k), scratch);
        apply(m, logits);
        auto s = f.c->advance(f.states[k], f.tokens[k]);
        benchmark::DoNotOptimize(s);
        benchmark::DoNotOptimize(logits.data());
        if (++k == f.states.size()) k = 0;
    }
    st.counters["steps"] = static_cast<double>(f.states.size());
}
BENCHMARK(BM_mask_step)->MeasureProcessCPUTime();

void sample_bench(benchmark::State& st, bool masked) {
    const auto& f = get();
    polyglot::runtime::sampling_params p;
    p.temperature = 1.0f;
    p.top_p = 0.9f;
    polyglot::runtime::sampler smp(p, 7, 0);
    std::vector<float> logits = f.logits;
    js::token_mask scratch;
    std::size_t k = 0;
    for (auto _ : st) {
        if (masked) {
            st.PauseTiming();
            logits = f.logits;
            st.ResumeTiming();
            apply(f.c->allowed(f.states[k], budget - static_cast<std::uint32_t>(k), scratch),
                  logits);
        }
        benchmark::DoNotOptimize(smp.sample(logits));
        if (++k == f.states.size()) k = 0;
    }
}
void BM_sample_unmasked(benchmark::State& st) { sample_bench(st, false); }
void BM_sample_masked(benchmark::State& st) { sample_bench(st, true); }
BENCHMARK(BM_sample_unmasked)->MeasureProcessCPUTime();
BENCHMARK(BM_sample_masked)->MeasureProcessCPUTime();

/// First use of a constraint on the vocabulary: the masks of every state the judge's schema
/// reaches (once per model and schema).
void BM_compile_and_warm(benchmark::State& st) {
    const auto path = polyglot::data_dir() / "test-assets" / "gemma3" / "tokenizer.json";
    auto vocab = js::token_vocab::from_tokenizer_json(path, {1, 106}, vocab_logits);
    for (auto _ : st) {
        auto c = js::constraint::compile(judge_schema, vocab);
        js::token_mask scratch;
        for (std::int32_t s = 0; s < static_cast<std::int32_t>(c->dfa().num_states()); ++s)
            if (c->distance(s) != UINT32_MAX) benchmark::DoNotOptimize(&c->allowed(s, 0, scratch));
    }
}
BENCHMARK(BM_compile_and_warm)->Unit(benchmark::kMillisecond)->Iterations(3);

/// Whole decode steps of a real model ($POLYGLOT_BENCH_MODEL, see constrained_decode.sh), free
/// and under the judge's schema: the time per generated token (1 prompt, ≤ 65 new tokens; the
/// short prompt's prefill is in both). CPU time of the whole process (the engine's threads).
void decode_bench(benchmark::State& st, bool constrained) {
    const char* dir = std::getenv("POLYGLOT_BENCH_MODEL");
    if (!dir) {
        st.SkipWithError("set POLYGLOT_BENCH_MODEL (benchmarks/constrained_decode.sh)");
        return;
    }
    polyglot::backend_options bo;
    bo.backend = "cpu";
    if (const char* pd = std::getenv("POLYGLOT_PLUGIN_PATH")) bo.plugin_dirs = {pd};
    static std::unique_ptr<polyglot::generator> g;
    if (!g) g = polyglot::open_generator(dir, bo);
    polyglot::generate_params p;
    p.temperature = 1.0f;
    p.top_p = 0.9f;
    p.max_new_tokens = 65;
    p.ignore_eos = true;
    p.seed = 5;
    if (constrained) p.json_schema = judge_schema;
    std::vector<std::string_view> prompts = {"Bewerte die Antwort:"};
    std::vector<polyglot::generation> out(1);
    g->generate(polyglot::prompt_kind::text, prompts, {}, 0, p, out);  // warm-up (masks, caches)
    auto cpu_now = [] {
        timespec ts{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
    };
    double tokens = 0, seconds = 0, cpu = 0;
    for (auto _ : st) {
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = cpu_now();
        g->generate(polyglot::prompt_kind::text, prompts, {}, 0, p, out);
        cpu += cpu_now() - c0;
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        tokens += static_cast<double>(out[0].ids.size());
    }
    st.counters["ms_per_token"] = 1000.0 * seconds / tokens;
    st.counters["cpu_ms_per_token"] = 1000.0 * cpu / tokens;
    st.counters["tokens"] = static_cast<double>(out[0].ids.size());
}
void BM_decode_free(benchmark::State& st) { decode_bench(st, false); }
void BM_decode_constrained(benchmark::State& st) { decode_bench(st, true); }
BENCHMARK(BM_decode_free)->Unit(benchmark::kMillisecond)->Iterations(3)->MeasureProcessCPUTime();
BENCHMARK(BM_decode_constrained)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
