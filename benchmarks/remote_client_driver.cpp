// SPDX-License-Identifier: Apache-2.0
// The remote backend's client alone, for benchmarks/remote_client_vs_aiohttp.sh: N scoring
// requests (/v1/completions with echo + prompt_logprobs, one token-id sequence each) at a given
// concurrency through the remote plugin, as `polyglot score --lm URL` sends them. Prints one JSON
// line: requests, wall seconds, CPU seconds of this process, and a checksum of the log-probs.
// Built on demand (EXCLUDE_FROM_ALL): cmake --build build --target polyglot_remote_client_driver
//
//   polyglot_remote_client_driver URL#MODEL N CONCURRENCY LEN
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/host.hpp>
#include <string>
#include <vector>

namespace {

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/// Token ids in [10, 1010): the same sequence generator as remote_client_aiohttp.py.
std::vector<std::int32_t> sequence(std::size_t i, std::size_t len) {
    std::vector<std::int32_t> ids(len);
    std::uint64_t x = 0x9E3779B97F4A7C15ull * (i + 1);
    for (auto& id : ids) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        id = std::int32_t(10 + (x >> 33) % 1000);
    }
    return ids;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: polyglot_remote_client_driver URL#MODEL N CONCURRENCY LEN\n";
        return 2;
    }
    try {
        const std::string spec = argv[1];
        const std::size_t n = std::stoul(argv[2]), conc = std::stoul(argv[3]),
                          len = std::stoul(argv[4]);
        const std::string cfg = "{\"model\":\"" + spec + "\",\"concurrency\":" +
                                std::to_string(conc) + ",\"no_cache\":true,\"max_retries\":0}";
        auto m = polyglot::plugin::open_model("remote", 0, cfg, {});
        std::vector<std::int32_t> ids;
        std::vector<std::uint64_t> offsets{0}, from(n, 1);
        for (std::size_t i = 0; i < n; ++i) {
            auto s = sequence(i, len);
            ids.insert(ids.end(), s.begin(), s.end());
            offsets.push_back(ids.size());
        }
        std::vector<float> lp(ids.size());
        const double c0 = cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        m.score_ids(ids, offsets, from, lp, {});
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cpu = cpu_seconds() - c0;
        double checksum = 0;
        for (float x : lp)
            if (!std::isnan(x)) checksum += double(x);
        std::printf("{\"client\": \"polyglot\", \"requests\": %zu, \"seconds\": %.4f, "
                    "\"cpu_seconds\": %.4f, \"checksum\": %.6f}\n",
                    n, wall, cpu, checksum);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "polyglot_remote_client_driver: " << e.what() << "\n";
        return 1;
    }
}
