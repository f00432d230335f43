// SPDX-License-Identifier: Apache-2.0
// Language identification throughput (lid.176.ftz, one thread): records/s and MB/s of UTF-8.
// Inputs: sentences built deterministically from a seed out of a fixed multilingual word
// list. Run: build-*/benchmarks/bench_langid --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <filesystem>
#include <polyglot/core/paths.hpp>
#include <polyglot/text/langid.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

std::shared_ptr<const polyglot::text::langid> lid() {
    static const auto m = [] {
        const auto p = polyglot::data_dir() / "lid.176.ftz";
        return std::filesystem::exists(p) ? polyglot::text::langid::open(p) : nullptr;
    }();
    return m;
}

// One word list per language; a "record" is n_words words of one language.
std::vector<std::string> make_texts(std::size_t n_texts, std::size_t n_words) {
    static const std::vector<std::vector<std::string>> words = {
        {"the", "weather", "is", "nice", "today", "we", "walk", "in", "park", "and", "read"},
        {"das", "Wetter", "ist", "heute", "schön", "wir", "gehen", "im", "Park", "und", "lesen"},
        {"الطقس", "جميل", "اليوم", "نذهب", "في", "نزهة", "الحديقة", "و", "نقرأ", "كتاب"},
        {"今日", "は", "天気", "が", "いい", "ので", "公園", "に", "散歩", "行きます", "。"},
        {"cuaca", "bagus", "hari", "ini", "kami", "akan", "berjalan", "di", "taman", "dan"},
        {"počasí", "je", "dnes", "pěkné", "jdeme", "projít", "do", "parku", "a", "číst"},
    };
    std::mt19937 rng(7);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n_texts; ++i) {
        const auto& w = words[i % words.size()];
        std::uniform_int_distribution<std::size_t> pick(0, w.size() - 1);
        std::string t;
        for (std::size_t k = 0; k < n_words; ++k) {
            if (k) t += ' ';
            t += w[pick(rng)];
        }
        out.push_back(std::move(t));
    }
    return out;
}

// arg: words per record (20 ≈ a prompt, 200 ≈ a response).
void bm_top1(benchmark::State& state) {
    auto m = lid();
    if (!m) {
        state.SkipWithError("lid.176.ftz not in the data directory (run scripts/bootstrap)");
        return;
    }
    const auto texts = make_texts(600, static_cast<std::size_t>(state.range(0)));
    std::size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();
    for (auto _ : state) {
        for (const auto& t : texts) benchmark::DoNotOptimize(m->top1(t));
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * texts.size()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(bm_top1)->Arg(20)->Arg(200)->Unit(benchmark::kMillisecond);

void bm_predict_top5(benchmark::State& state) {
    auto m = lid();
    if (!m) {
        state.SkipWithError("lid.176.ftz not in the data directory (run scripts/bootstrap)");
        return;
    }
    const auto texts = make_texts(600, 20);
    std::size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();
    for (auto _ : state) {
        for (const auto& t : texts) benchmark::DoNotOptimize(m->predict(t, 5));
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * texts.size()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(bm_predict_top5)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
