// SPDX-License-Identifier: Apache-2.0
/// @file Seeded, portable nonparametric bootstrap (percentile intervals).
/// The generator is std::mt19937_64 (fully specified by the standard) and the bounded draws are
/// done here with rejection sampling, not with std::uniform_int_distribution (whose output is
/// implementation-defined), so a seed gives the same replicates on every platform.
/// Thread-safety: pure functions. Determinism: fixed by the seed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/version.hpp>
#include <random>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace stats {

/// Uniform integer in [0, n) from @p rng without modulo bias.
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
    if (n == 0) return 0;
    const std::uint64_t limit =
        std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
    std::uint64_t v;
    do v = rng();
    while (v >= limit);
    return v % n;
}

/// Linear-interpolation quantile (numpy's default method) of @p v, which is sorted in place.
inline double quantile_sorted(std::vector<double>& v, double q) {
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(v.begin(), v.end());
    double pos = q * static_cast<double>(v.size() - 1);
    auto lo = static_cast<std::size_t>(std::floor(pos));
    auto hi = std::min(lo + 1, v.size() - 1);
    double frac = pos - static_cast<double>(lo);
    return v[lo] + (v[hi] - v[lo]) * frac;
}

/// Draws @p replicates resamples of the indices 0…n−1 (with replacement) and calls
/// @p on_replicate(const std::vector<std::size_t>& idx) for each, in order.
template <class OnReplicate>
void bootstrap_indices(std::size_t n, std::size_t replicates, std::uint64_t seed,
                       OnReplicate&& on_replicate) {
    if (n == 0) throw argument_error("bootstrap: nothing to resample");
    std::mt19937_64 rng(seed);
    std::vector<std::size_t> idx(n);
    for (std::size_t b = 0; b < replicates; ++b) {
        for (auto& i : idx) i = static_cast<std::size_t>(uniform_below(rng, n));
        on_replicate(idx);
    }
}

struct interval {
    double lo = std::numeric_limits<double>::quiet_NaN();
    double hi = std::numeric_limits<double>::quiet_NaN();
    double se = std::numeric_limits<double>::quiet_NaN();  ///< SD of the replicates (ddof 1)
};

/// Percentile interval at @p level (e.g. 0.95) of the finite values in @p reps.
inline interval percentile_interval(std::vector<double> reps, double level = 0.95) {
    std::erase_if(reps, [](double v) { return !std::isfinite(v); });
    interval out;
    if (reps.size() < 2) return out;
    double m = 0;
    for (double v : reps) m += v;
    m /= static_cast<double>(reps.size());
    double ss = 0;
    for (double v : reps) ss += (v - m) * (v - m);
    out.se = std::sqrt(ss / static_cast<double>(reps.size() - 1));
    out.lo = quantile_sorted(reps, (1 - level) / 2);
    out.hi = quantile_sorted(reps, 1 - (1 - level) / 2);
    return out;
}

}  // namespace stats
POLYGLOT_END_NAMESPACE
