// SPDX-License-Identifier: Apache-2.0
// Driver of benchmarks/engine_vs_torch.py: runs the cpu engine's prefill on given token ids and
// reports response log-probs and throughput. Built by plugins/cpu/engine/CMakeLists.txt as the
// (EXCLUDE_FROM_ALL) target polyglot_engine_driver.
//
//   polyglot_engine_driver MODEL_DIR IDS.txt OUT.f32 [--threads N] [--repeat R]
//       [--batch-tokens B] [--outputs all|last]
// IDS.txt: one sequence per line, "score_from id id id ...". OUT.f32: the log-probs of every
// sequence's tokens at positions ≥ max(score_from, 1), concatenated (float32); with
// --outputs last, only of each sequence's last token (a prefill that projects one row onto the
// vocabulary, as llama-bench's prompt processing does). Prints "tokens N seconds S
// tokens_per_s X median_seconds M cpu_seconds C" (best and median of R runs after one warm-up
// run, C the process CPU time per run; the load is not timed).
//
// Device-level decode at batch 1 (llama-bench's text generation): with --decode N, the first
// sequence is prefilled into the KV cache, then N tokens are generated one pass at a time
// (greedy: argmax of the logits). Prints "decode_tokens N seconds S decode_tokens_per_s X
// cpu_seconds C" (best of R runs; C per run).
//
// Decode through the shared runtime as the plugin runs it (benchmarks/decode_vs_torch.py:
// continuous batching over the KV cache, greedy sampling, detokenization):
//   polyglot_engine_driver MODEL_DIR PROMPTS.txt OUT.txt --generate N [--threads T] [--repeat R]
// PROMPTS.txt: one prompt per line, "id id id ..." (all generated together, EOS ignored).
// OUT.txt: the generated ids, one line per prompt. Prints "prompts P new N seconds S
// first_token_seconds F decode_tokens_per_s X" (best of R runs of N tokens and of 1 token; the
// decode rate is P·(N − 1) / (S − F)).
#include <oneapi/tbb/task_arena.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/runtime/lm_runtime.hpp"
#include "engine/transformer.hpp"

namespace {

int run_generate(const char* model, const char* prompts_file, const char* out_file, int threads,
                 int repeat, std::uint32_t n) {
    namespace rt = polyglot::runtime;
    auto r = rt::lm_runtime::open(model, {}, [&](const std::filesystem::path& d) {
        return polyglot::engine::transformer::load(
            d, {.need_lm_head = true, .threads = std::size_t(threads), .pass_tokens = 0});
    });
    std::ifstream in(prompts_file);
    std::vector<std::vector<std::uint32_t>> prompts;
    for (std::string line; std::getline(in, line);) {
        std::istringstream ss(line);
        std::vector<std::uint32_t> ids;
        for (std::uint32_t id; ss >> id;) ids.push_back(id);
        if (!ids.empty()) prompts.push_back(std::move(ids));
    }
    auto timed = [&](std::uint32_t new_tokens, std::vector<rt::generated>* out) {
        rt::generate_options o;
        o.max_new_tokens = new_tokens;
        o.ignore_eos = true;
        double best = 1e300;
        for (int k = 0; k < repeat; ++k) {
            const auto t0 = std::chrono::steady_clock::now();
            auto g = r->generate(prompts, o);
            best = std::min(
                best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            if (out) *out = std::move(g);
        }
        return best;
    };
    const double first = timed(1, nullptr);
    std::vector<rt::generated> g;
    const double total = timed(n, &g);
    std::ofstream out(out_file);
    for (const auto& x : g) {
        for (std::size_t i = 0; i < x.ids.size(); ++i) out << (i ? " " : "") << x.ids[i];
        out << "\n";
    }
    const double rate = double(prompts.size()) * double(n - 1) / (total - first);
    std::printf(
        "prompts %zu new %u seconds %.4f first_token_seconds %.4f decode_tokens_per_s %.2f\n",
        prompts.size(), n, total, first, rate);
    return 0;
}

}  // namespace

int main(int argc, char** argv) try {
    namespace pe = polyglot::engine;
    if (argc < 4) {
        std::cerr << "usage: polyglot_engine_driver MODEL_DIR IDS.txt OUT.f32 [--threads N] "
                     "[--repeat R] [--batch-tokens B]\n";
        return 2;
    }
    int threads = 1, repeat = 3;
    std::size_t batch_tokens = 4096;
    bool last_only = false;
    std::size_t decode = 0;
    std::uint32_t generate = 0;
    for (int i = 4; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        if (k == "--threads")
            threads = std::stoi(argv[i + 1]);
        else if (k == "--repeat")
            repeat = std::stoi(argv[i + 1]);
        else if (k == "--batch-tokens")
            batch_tokens = std::stoul(argv[i + 1]);
        else if (k == "--outputs")
            last_only = std::string(argv[i + 1]) == "last";
        else if (k == "--decode")
            decode = std::stoul(argv[i + 1]);
        else if (k == "--generate")
            generate = std::uint32_t(std::stoul(argv[i + 1]));
        else
            throw std::runtime_error("unknown option " + k);
    }
    if (generate > 0) return run_generate(argv[1], argv[2], argv[3], threads, repeat, generate);
    auto net =
        pe::transformer::load(argv[1], {.need_lm_head = true, .threads = std::size_t(threads)});
    std::ifstream in(argv[2]);
    std::vector<std::vector<pe::token_id>> seqs;
    std::vector<std::size_t> from;
    for (std::string line; std::getline(in, line);) {
        std::istringstream ss(line);
        std::size_t f;
        if (!(ss >> f)) continue;
        std::vector<pe::token_id> ids;
        for (pe::token_id id; ss >> id;) ids.push_back(id);
        seqs.push_back(std::move(ids));
        from.push_back(f);
    }
    auto cpu_now = [] {
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
               1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
    };
    oneapi::tbb::task_arena arena(threads);
    if (decode > 0) {
        if (seqs.empty()) throw std::runtime_error("no prompt");
        const std::size_t B = net->kv_block_tokens(), V = std::size_t(net->config().vocab_size);
        const std::size_t total = seqs[0].size() + decode;
        std::vector<std::uint32_t> blocks((total + B - 1) / B);
        for (std::size_t b = 0; b < blocks.size(); ++b) blocks[b] = std::uint32_t(b);
        net->kv_reserve(blocks.size());
        std::vector<float> logits(V);
        double best = 1e300, cpu = 0;
        std::vector<pe::token_id> out;
        for (int r = -1; r < repeat; ++r) {  // r = -1: warm-up
            std::vector<pe::token_id> ids = seqs[0];
            polyglot::runtime::output_request o;
            o.logits = logits.data();
            polyglot::runtime::forward_seq f;
            f.blocks = blocks;
            auto step = [&](std::size_t pos0, std::span<const pe::token_id> t) {
                o.row = std::uint32_t(t.size() - 1);
                f.ids = t, f.pos0 = pos0, f.outputs = {&o, 1};
                arena.execute([&] { net->forward({&f, 1}); });
                ids.push_back(
                    pe::token_id(std::max_element(logits.begin(), logits.end()) - logits.begin()));
            };
            step(0, seqs[0]);  // prefill (not timed)
            const double c0 = cpu_now();
            const auto t0 = std::chrono::steady_clock::now();
            for (std::size_t k = 1; k < decode; ++k)
                step(ids.size() - 1, std::span<const pe::token_id>(&ids.back(), 1));
            const double t =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (r >= 0) best = std::min(best, t), cpu += (cpu_now() - c0) / repeat;
            out = ids;
        }
        std::ofstream os(argv[3]);
        for (auto id : out) os << id << " ";
        std::printf("decode_tokens %zu seconds %.4f decode_tokens_per_s %.2f cpu_seconds %.4f\n",
                    decode - 1, best, double(decode - 1) / best, cpu);
        return 0;
    }
    std::vector<std::vector<float>> lp(seqs.size());
    std::vector<polyglot::runtime::forward_seq> reqs(seqs.size());
    std::vector<std::vector<polyglot::runtime::output_request>> outs(seqs.size());
    std::size_t tokens = 0;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        std::size_t f = std::max<std::size_t>(from[i], 1);
        if (last_only) f = std::max(f, seqs[i].size() - 1);
        lp[i].assign(seqs[i].size() > f ? seqs[i].size() - f : 0, 0.0f);
        for (std::size_t p = f; p < seqs[i].size(); ++p) {
            polyglot::runtime::output_request o;
            o.row = std::uint32_t(p - 1);
            o.target = std::int32_t(seqs[i][p]);
            o.logprob = lp[i].data() + (p - f);
            outs[i].push_back(o);
        }
        reqs[i].ids = seqs[i];
        reqs[i].outputs = outs[i];
        tokens += seqs[i].size();
    }
    std::vector<double> times;
    double cpu0 = 0;
    for (int r = -1; r < repeat; ++r) {  // r = -1: warm-up (pages of the mapped weights)
        if (r == 0) cpu0 = cpu_now();
        auto t0 = std::chrono::steady_clock::now();
        arena.execute([&] {
            for (std::size_t i = 0; i < reqs.size();) {
                std::size_t j = i, n = 0;
                while (j < reqs.size() && (j == i || n + seqs[j].size() <= batch_tokens))
                    n += seqs[j++].size();
                net->forward(
                    std::span<const polyglot::runtime::forward_seq>(reqs.data() + i, j - i));
                i = j;
            }
        });
        if (r >= 0)
            times.push_back(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double cpu = (cpu_now() - cpu0) / repeat;
    std::sort(times.begin(), times.end());
    const double best = times.front(), median = times[times.size() / 2];
    std::ofstream out(argv[3], std::ios::binary);
    for (auto& v : lp)
        out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * 4));
    std::printf("tokens %zu seconds %.4f tokens_per_s %.1f median_seconds %.4f cpu_seconds %.4f\n",
                tokens, best, double(tokens) / best, median, cpu);
    return 0;
} catch (const std::exception& e) {
    std::cerr << "polyglot_engine_driver: " << e.what() << "\n";
    return 1;
}
