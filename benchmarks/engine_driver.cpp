// SPDX-License-Identifier: Apache-2.0
// Driver of benchmarks/engine_vs_torch.py: runs the cpu engine's prefill on given token ids and
// reports response log-probs and throughput. Built by plugins/cpu/engine/CMakeLists.txt as the
// (EXCLUDE_FROM_ALL) target polyglot_engine_driver.
//
//   polyglot_engine_driver MODEL_DIR IDS.txt OUT.f32 [--threads N] [--repeat R]
//       [--batch-tokens B]
// IDS.txt: one sequence per line, "score_from id id id ...". OUT.f32: the log-probs of every
// sequence's tokens at positions ≥ max(score_from, 1), concatenated (float32). Prints
// "tokens N seconds S tokens_per_s X" (best of R runs; the load is not timed).
#include <oneapi/tbb/task_arena.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/transformer.hpp"

int main(int argc, char** argv) try {
    namespace pe = polyglot::engine;
    if (argc < 4) {
        std::cerr << "usage: polyglot_engine_driver MODEL_DIR IDS.txt OUT.f32 [--threads N] "
                     "[--repeat R] [--batch-tokens B]\n";
        return 2;
    }
    int threads = 1, repeat = 3;
    std::size_t batch_tokens = 4096;
    for (int i = 4; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        if (k == "--threads")
            threads = std::stoi(argv[i + 1]);
        else if (k == "--repeat")
            repeat = std::stoi(argv[i + 1]);
        else if (k == "--batch-tokens")
            batch_tokens = std::stoul(argv[i + 1]);
        else
            throw std::runtime_error("unknown option " + k);
    }
    auto net = pe::transformer::load(argv[1], {.need_lm_head = true});
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
    std::vector<std::vector<float>> lp(seqs.size());
    std::vector<polyglot::runtime::forward_seq> reqs(seqs.size());
    std::vector<std::vector<polyglot::runtime::output_request>> outs(seqs.size());
    std::size_t tokens = 0;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        const std::size_t f = std::max<std::size_t>(from[i], 1);
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
    oneapi::tbb::task_arena arena(threads);
    double best = 1e300;
    for (int r = 0; r < repeat; ++r) {
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
        best = std::min(
            best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::ofstream out(argv[3], std::ios::binary);
    for (auto& v : lp)
        out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * 4));
    std::printf("tokens %zu seconds %.4f tokens_per_s %.1f\n", tokens, best, double(tokens) / best);
    return 0;
} catch (const std::exception& e) {
    std::cerr << "polyglot_engine_driver: " << e.what() << "\n";
    return 1;
}
