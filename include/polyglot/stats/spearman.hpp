// SPDX-License-Identifier: Apache-2.0
/// @file Rank correlation with scipy's conventions:
/// - ranks: average ranks for ties (scipy.stats.rankdata(method="average"));
/// - rho: Pearson correlation of the ranks (scipy.stats.spearmanr);
/// - p (t-approximation, scipy's default): t = ρ·sqrt((n−2)/((1+ρ)(1−ρ))), two-sided
///   p = 2·sf(|t|; n−2) from Boost.Math's students_t;
/// - p_exact (n ≤ 10): all n! pairings of the observed ranks, two-sided as
///   scipy.stats.permutation_test: min(1, 2·min(P(ρπ ≤ ρ), P(ρπ ≥ ρ))), comparisons with a
///   slack max(1e-14, 1e-14·|ρ|) (scipy's gamma).
/// Constant inputs give rho = p = NaN (as scipy, which warns); callers report it.
/// Thread-safety: pure functions. Determinism: exact enumeration, no randomness.
#pragma once

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <polyglot/core/error.hpp>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace stats {

/// Average ranks (1-based) of @p x; ties share the mean of their positions.
inline std::vector<double> rank_average(std::span<const double> x) {
    const std::size_t n = x.size();
    std::vector<std::size_t> idx(n);
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    std::stable_sort(idx.begin(), idx.end(),
                     [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        while (j + 1 < n && x[idx[j + 1]] == x[idx[i]]) ++j;
        double avg = 0.5 * static_cast<double>(i + j) + 1.0;
        for (std::size_t k = i; k <= j; ++k) r[idx[k]] = avg;
        i = j + 1;
    }
    return r;
}

/// Pearson correlation; NaN when either input is constant or n < 2.
inline double pearson(std::span<const double> x, std::span<const double> y) {
    const std::size_t n = x.size();
    if (n != y.size()) throw argument_error("pearson: inputs of different length");
    if (n < 2) return std::numeric_limits<double>::quiet_NaN();
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < n; ++i) {
        mx += x[i];
        my += y[i];
    }
    mx /= static_cast<double>(n);
    my /= static_cast<double>(n);
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
    double r = sxy / std::sqrt(sxx * syy);
    return std::clamp(r, -1.0, 1.0);
}

/// Two-sided p-value of a correlation by the t-approximation with n − 2 degrees of freedom.
inline double correlation_p_t(double rho, std::size_t n) {
    if (std::isnan(rho) || n < 3) return std::numeric_limits<double>::quiet_NaN();
    const double dof = static_cast<double>(n - 2);
    if (std::fabs(rho) >= 1.0) return 0.0;
    double t = rho * std::sqrt(std::max(0.0, dof / ((rho + 1.0) * (1.0 - rho))));
    boost::math::students_t dist(dof);
    return 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(t)));
}

/// Largest n for which spearman() enumerates the exact permutation distribution.
inline constexpr std::size_t spearman_exact_max_n = 10;

/// Exact two-sided permutation p-value of the Pearson correlation of @p rx and @p ry (already
/// ranks) over all n! pairings. n ≤ spearman_exact_max_n.
inline double permutation_p_exact(std::span<const double> rx, std::span<const double> ry) {
    const std::size_t n = rx.size();
    if (n != ry.size() || n > spearman_exact_max_n)
        throw argument_error("exact permutation p: needs n <= 10 paired values");
    double observed = pearson(rx, ry);
    if (std::isnan(observed) || n < 2) return std::numeric_limits<double>::quiet_NaN();
    // ρ is affine in Σ rx_i·ry_π(i) for fixed marginals: compare that sum instead.
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < n; ++i) {
        mx += rx[i];
        my += ry[i];
    }
    mx /= static_cast<double>(n);
    my /= static_cast<double>(n);
    std::vector<double> dx(n), dy(n);
    double sxx = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        dx[i] = rx[i] - mx;
        dy[i] = ry[i] - my;
        sxx += dx[i] * dx[i];
        syy += dy[i] * dy[i];
    }
    const double denom = std::sqrt(sxx * syy);
    const double gamma = std::max(1e-14, std::fabs(1e-14 * observed));
    std::vector<std::size_t> perm(n);
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    std::size_t less = 0, greater = 0, total = 0;
    do {
        double s = 0;
        for (std::size_t i = 0; i < n; ++i) s += dx[i] * dy[perm[i]];
        double r = s / denom;
        if (r <= observed + gamma) ++less;
        if (r >= observed - gamma) ++greater;
        ++total;
    } while (std::next_permutation(perm.begin(), perm.end()));
    double pl = static_cast<double>(less) / static_cast<double>(total);
    double pg = static_cast<double>(greater) / static_cast<double>(total);
    return std::min(1.0, 2.0 * std::min(pl, pg));
}

struct spearman_result {
    double rho = std::numeric_limits<double>::quiet_NaN();
    double p = std::numeric_limits<double>::quiet_NaN();        ///< t-approximation
    double p_exact = std::numeric_limits<double>::quiet_NaN();  ///< NaN when n > 10
    std::size_t n = 0;
};

/// Spearman's ρ of paired finite values.
/// @throws argument_error for different lengths or non-finite values.
inline spearman_result spearman(std::span<const double> x, std::span<const double> y,
                                bool exact = true) {
    if (x.size() != y.size()) throw argument_error("spearman: inputs of different length");
    for (std::size_t i = 0; i < x.size(); ++i)
        if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
            throw argument_error("spearman: non-finite value at position " + std::to_string(i + 1));
    spearman_result r;
    r.n = x.size();
    auto rx = rank_average(x), ry = rank_average(y);
    r.rho = pearson(rx, ry);
    r.p = correlation_p_t(r.rho, r.n);
    if (exact && r.n <= spearman_exact_max_n && r.n >= 2 && !std::isnan(r.rho))
        r.p_exact = permutation_p_exact(rx, ry);
    return r;
}

/// "**" for p < 0.01, "*" for p < 0.05, else "" (NaN gives "").
inline std::string significance_stars(double p) {
    if (p < 0.01) return "**";
    if (p < 0.05) return "*";
    return "";
}

}  // namespace stats
POLYGLOT_END_NAMESPACE
