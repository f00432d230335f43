// SPDX-License-Identifier: Apache-2.0
// Single-thread throughput of the tiktoken tokenizer (MB/s and tokens/s) on a deterministic
// multilingual text: a fixed set of sentences in 16 scripts/languages, shuffled with a fixed
// seed into ~2 MB of lines. encode (ids into a reused vector) and count, for both tables; and
// single long pieces ("aaaa…") of growing length, with a complexity fit.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <polyglot/text/tokenizer.hpp>
#include <string>
#include <vector>

#include "bench_text.hpp"

namespace {

const std::vector<std::string>& lines() {
    static const std::vector<std::string> out = [] {
        const auto& sentences = polyglot::bench::multilingual_sentences();
        std::vector<std::string> v;
        std::uint64_t x = 0x9E3779B97F4A7C15ull;
        std::size_t bytes = 0;
        while (bytes < (2u << 20)) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            std::string line = sentences[x % sentences.size()];
            line += ' ';
            line += sentences[(x >> 20) % sentences.size()];
            bytes += line.size();
            v.push_back(std::move(line));
        }
        return v;
    }();
    return out;
}

std::size_t total_bytes() {
    std::size_t b = 0;
    for (const auto& l : lines()) b += l.size();
    return b;
}

/// The table, or null after marking the benchmark as failed (the asset is missing).
std::shared_ptr<const polyglot::text::tokenizer> open_or_fail(benchmark::State& state,
                                                              const char* table) {
    try {
        return polyglot::text::open_tokenizer(table);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return nullptr;
    }
}

void run(benchmark::State& state, const char* table, bool count_only) {
    const auto tok = open_or_fail(state, table);
    if (!tok) return;
    const auto& ls = lines();
    std::vector<polyglot::text::token_id> ids;
    std::size_t tokens = 0;
    for (auto _ : state) {
        for (const auto& l : ls) {
            if (count_only) {
                tokens += tok->count(l);
            } else {
                ids.clear();
                tok->encode(l, ids);
                tokens += ids.size();
            }
        }
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total_bytes()));
    state.counters["tokens/s"] =
        benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}

void BM_encode_cl100k(benchmark::State& s) { run(s, "cl100k_base", false); }
void BM_count_cl100k(benchmark::State& s) { run(s, "cl100k_base", true); }
void BM_encode_o200k(benchmark::State& s) { run(s, "o200k_base", false); }
void BM_count_o200k(benchmark::State& s) { run(s, "o200k_base", true); }

/// One long piece: @p unit repeated state.range(0) times (as the long rows of
/// tests/data/tiktoken/edge_cases.jsonl). tiktoken's own merge loop is quadratic on such pieces
/// (minutes in Node at 100k characters); ours merges long pieces with a heap. The complexity
/// fit over the range shows the growth (expected: N log N).
void long_piece(benchmark::State& state, const char* table, const std::string& unit) {
    const auto tok = open_or_fail(state, table);
    if (!tok) return;
    std::string text;
    for (std::int64_t k = 0; k < state.range(0); ++k) text += unit;
    std::vector<polyglot::text::token_id> ids;
    for (auto _ : state) {
        ids.clear();
        tok->encode(text, ids);
        benchmark::DoNotOptimize(ids.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
    state.SetComplexityN(state.range(0));
}

void BM_long_piece_a_cl100k(benchmark::State& s) { long_piece(s, "cl100k_base", "a"); }
void BM_long_piece_ab_o200k(benchmark::State& s) { long_piece(s, "o200k_base", "ab"); }
void BM_long_piece_emoji_cl100k(benchmark::State& s) { long_piece(s, "cl100k_base", "👍"); }

}  // namespace

BENCHMARK(BM_long_piece_a_cl100k)
    ->RangeMultiplier(4)
    ->Range(1 << 10, 1 << 18)
    ->Unit(benchmark::kMillisecond)
    ->Complexity();
BENCHMARK(BM_long_piece_ab_o200k)
    ->RangeMultiplier(4)
    ->Range(1 << 10, 1 << 17)
    ->Unit(benchmark::kMillisecond)
    ->Complexity();
BENCHMARK(BM_long_piece_emoji_cl100k)
    ->RangeMultiplier(4)
    ->Range(1 << 10, 1 << 16)
    ->Unit(benchmark::kMillisecond)
    ->Complexity();
BENCHMARK(BM_encode_cl100k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_count_cl100k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_encode_o200k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_count_o200k)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
