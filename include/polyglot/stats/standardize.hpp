// SPDX-License-Identifier: Apache-2.0
/// @file Column standardization with scikit-learn's StandardScaler semantics.
///
/// - mean and population variance (ddof = 0), computed with sklearn's two-pass formula
///   var = (Σd² − (Σd)²/n)/n, d = x − mean, so results agree with sklearn to rounding;
/// - NaN cells are ignored when fitting (per column) and stay NaN when transforming;
/// - a column sklearn detects as constant (var ≤ n·eps·var + (n·mean·eps)²) gets scale 1, so it
///   becomes all zeros after centering (sklearn's `_handle_zeros_in_scale`); it is flagged in
///   `scaler::constant` so callers can warn. A column with no finite value is an error.
/// Thread-safety: pure functions. Determinism: fixed summation order.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace stats {

/// A fitted standardization: x' = (x − mean) / scale, per column.
struct scaler {
    Eigen::VectorXd mean;             ///< per-column mean of the finite cells
    Eigen::VectorXd var;              ///< per-column population variance (ddof = 0)
    Eigen::VectorXd scale;            ///< sqrt(var), or 1 for constant columns (as sklearn)
    std::vector<bool> constant;       ///< true where sklearn's constant-feature test fired
    std::vector<std::size_t> n_seen;  ///< finite cells per column
};

/// Fits a scaler on the columns of @p x (rows = samples). NaN cells are ignored.
/// @param names optional column names, used only in error messages.
/// @throws numerical_error when a column has no finite value, or contains ±inf.
inline scaler fit_scaler(const Eigen::Ref<const Eigen::MatrixXd>& x,
                         const std::vector<std::string>& names = {}) {
    const Eigen::Index p = x.cols();
    scaler s;
    s.mean.resize(p);
    s.var.resize(p);
    s.scale.resize(p);
    s.constant.assign(static_cast<std::size_t>(p), false);
    s.n_seen.assign(static_cast<std::size_t>(p), 0);
    constexpr double eps = std::numeric_limits<double>::epsilon();
    for (Eigen::Index j = 0; j < p; ++j) {
        auto col_name = [&] {
            return static_cast<std::size_t>(j) < names.size()
                       ? "'" + names[static_cast<std::size_t>(j)] + "'"
                       : "#" + std::to_string(j);
        };
        double sum = 0;
        std::size_t n = 0;
        for (Eigen::Index i = 0; i < x.rows(); ++i) {
            double v = x(i, j);
            if (std::isnan(v)) continue;
            if (std::isinf(v))
                throw numerical_error("standardize: column " + col_name() + " row " +
                                      std::to_string(i + 1) + " is infinite");
            sum += v;
            ++n;
        }
        if (n == 0)
            throw numerical_error("standardize: column " + col_name() +
                                  " has no finite value to fit on");
        double mean = sum / static_cast<double>(n);
        double sd = 0, sd2 = 0;
        for (Eigen::Index i = 0; i < x.rows(); ++i) {
            double v = x(i, j);
            if (std::isnan(v)) continue;
            double d = v - mean;
            sd += d;
            sd2 += d * d;
        }
        const double nn = static_cast<double>(n);
        double var = (sd2 - sd * sd / nn) / nn;
        s.mean[j] = mean;
        s.var[j] = var;
        s.n_seen[static_cast<std::size_t>(j)] = n;
        double bound = nn * eps * var + (nn * mean * eps) * (nn * mean * eps);
        bool constant = var <= bound;
        s.constant[static_cast<std::size_t>(j)] = constant;
        s.scale[j] = constant ? 1.0 : std::sqrt(var);
    }
    return s;
}

/// Applies a fitted scaler. NaN cells stay NaN.
/// @throws argument_error when the column count differs from the fitted one.
inline Eigen::MatrixXd transform(const scaler& s, const Eigen::Ref<const Eigen::MatrixXd>& x) {
    if (x.cols() != s.mean.size())
        throw argument_error("standardize: scaler fitted on " + std::to_string(s.mean.size()) +
                             " columns applied to " + std::to_string(x.cols()));
    Eigen::MatrixXd out(x.rows(), x.cols());
    for (Eigen::Index j = 0; j < x.cols(); ++j)
        for (Eigen::Index i = 0; i < x.rows(); ++i) out(i, j) = (x(i, j) - s.mean[j]) / s.scale[j];
    return out;
}

/// fit_scaler + transform.
inline Eigen::MatrixXd standardize(const Eigen::Ref<const Eigen::MatrixXd>& x,
                                   const std::vector<std::string>& names = {}) {
    return transform(fit_scaler(x, names), x);
}

}  // namespace stats
POLYGLOT_END_NAMESPACE
