// SPDX-License-Identifier: Apache-2.0
// Cost of rendering chat templates next to tokenizing the result: 100k deterministic two-turn
// conversations (system + user + assistant, multilingual text in 16 scripts), rendered with
// Qwen3's chat template (text::chat_template, add_generation_prompt off) and tokenized with
// Qwen3's tokenizer.json (model::hf_tokenizer from plugins/common, special tokens parsed, none
// added: what transformers' apply_chat_template(tokenize=True) does), one thread.
//   bm_render            render only
//   bm_tokenize          tokenize pre-rendered texts only
//   bm_render_tokenize   both, per conversation
// Needs scripts/fetch-test-assets (test-assets/qwen3).
#include <benchmark/benchmark.h>

#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <polyglot/core/paths.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/text/chat_template.hpp>
#include <string>
#include <vector>

#include "bench_text.hpp"

namespace {

constexpr std::size_t n_conversations = 100000;

std::filesystem::path qwen3_dir() {
    const auto dir = polyglot::data_dir() / "test-assets" / "qwen3";
    if (!std::filesystem::exists(dir / "tokenizer.json")) {
        std::fprintf(stderr, "%s is missing: run scripts/fetch-test-assets\n", dir.c_str());
        std::exit(1);
    }
    return dir;
}

const std::vector<std::string>& conversations() {
    static const std::vector<std::string> out = [] {
        const auto& sentences = polyglot::bench::multilingual_sentences();
        const std::size_t n = sentences.size();
        std::vector<std::string> v;
        v.reserve(n_conversations);
        std::uint64_t x = 0x9E3779B97F4A7C15ull;
        auto next = [&] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            return x;
        };
        for (std::size_t i = 0; i < n_conversations; ++i) {
            polyglot::io::json_writer w;
            w.begin_array();
            w.begin_object().key("role").value("system");
            w.key("content").value("You are a helpful assistant. Answer in the user's language.");
            w.end_object();
            std::string user = sentences[next() % n];
            user += " (#" + std::to_string(i) + ")";
            w.begin_object().key("role").value("user").key("content").value(user).end_object();
            std::string answer = sentences[next() % n];
            answer += ' ';
            answer += sentences[next() % n];
            w.begin_object().key("role").value("assistant").key("content").value(answer);
            w.end_object();
            w.end_array();
            v.push_back(w.str());
        }
        return v;
    }();
    return out;
}

const polyglot::text::chat_template& qwen3_template() {
    static const auto t = polyglot::text::chat_template::from_model_dir(qwen3_dir());
    return t;
}

const polyglot::model::hf_tokenizer& qwen3_tokenizer() {
    static const auto t = polyglot::model::hf_tokenizer::load(qwen3_dir());
    return *t;
}

const polyglot::model::hf_tokenizer::encode_options encode_opts{false, true};

void bm_render(benchmark::State& state) {
    const auto& convs = conversations();
    const auto& tmpl = qwen3_template();
    std::size_t bytes = 0;
    for (auto _ : state) {
        for (const auto& c : convs) {
            const std::string text = tmpl.render(c);
            bytes += text.size();
            benchmark::DoNotOptimize(text.data());
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * convs.size()));
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void bm_tokenize(benchmark::State& state) {
    const auto& convs = conversations();
    const auto& tmpl = qwen3_template();
    const auto& tok = qwen3_tokenizer();
    std::vector<std::string> rendered;
    rendered.reserve(convs.size());
    for (const auto& c : convs) rendered.push_back(tmpl.render(c));
    std::vector<polyglot::model::token_id> ids;
    std::size_t bytes = 0, tokens = 0;
    for (auto _ : state) {
        for (const auto& r : rendered) {
            ids.clear();
            tok.encode(r, ids, encode_opts);
            tokens += ids.size();
            bytes += r.size();
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * convs.size()));
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    state.counters["tokens_per_conv"] =
        static_cast<double>(tokens) / static_cast<double>(state.iterations() * convs.size());
}

void bm_render_tokenize(benchmark::State& state) {
    const auto& convs = conversations();
    const auto& tmpl = qwen3_template();
    const auto& tok = qwen3_tokenizer();
    std::vector<polyglot::model::token_id> ids;
    for (auto _ : state) {
        for (const auto& c : convs) {
            const std::string text = tmpl.render(c);
            ids.clear();
            tok.encode(text, ids, encode_opts);
            benchmark::DoNotOptimize(ids.data());
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * convs.size()));
}

}  // namespace

BENCHMARK(bm_render)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(bm_tokenize)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(bm_render_tokenize)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_MAIN();
