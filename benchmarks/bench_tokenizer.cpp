// SPDX-License-Identifier: Apache-2.0
// Single-thread throughput of the tiktoken tokenizer (MB/s and tokens/s) on a deterministic
// multilingual text: a fixed set of sentences in 16 scripts/languages, shuffled with a fixed
// seed into ~2 MB of lines. encode (ids into a reused vector) and count, for both tables.
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

void run(benchmark::State& state, const char* table, bool count_only) {
    std::shared_ptr<const polyglot::text::tokenizer> tok;
    try {
        tok = polyglot::text::open_tokenizer(table);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
    }
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

}  // namespace

BENCHMARK(BM_encode_cl100k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_count_cl100k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_encode_o200k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_count_o200k)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
