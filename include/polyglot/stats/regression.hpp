// SPDX-License-Identifier: Apache-2.0
/// @file Linear regressions with an intercept, matching scikit-learn 1.2 numerically:
/// - fit_ols:   LinearRegression (centre X and y, then the minimum-norm least-squares solution
///              of scipy.linalg.lstsq/gelsd: singular values ≤ eps·s_max count as zero);
/// - fit_ridge: Ridge(alpha) (centre, then (XᵀX + αI)w = Xᵀy, or the dual form when p > n);
/// - fit_lasso: Lasso(alpha) with sklearn's objective 1/(2n)‖y − Xw − b‖² + α‖w‖₁, cyclic
///              coordinate descent from w = 0, and sklearn's stopping rule (max |Δw|/max |w| <
///              tol, then duality gap < tol·‖y_c‖², at most max_iter passes);
/// - polynomial_features2: PolynomialFeatures(degree = 2, include_bias = False) column order.
/// Hand-written on top of Eigen because no Debian C++ library offers sklearn's exact
/// semantics (the point is to agree with the reference's numbers).
/// Thread-safety: pure functions. Determinism: fixed operation order.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/version.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace stats {

/// A fitted linear model ŷ = X·coef + intercept.
struct linear_model {
    Eigen::VectorXd coef;
    double intercept = 0;
    Eigen::Index rank = 0;  ///< OLS: effective rank of the centred design
    int n_iter = 0;         ///< lasso: coordinate-descent passes
    double dual_gap = 0;    ///< lasso: final duality gap (sklearn's scaled units)
    bool converged = true;  ///< lasso: false when max_iter was reached without gap < tol
};

namespace detail {
inline void check_xy(const Eigen::Ref<const Eigen::MatrixXd>& x,
                     const Eigen::Ref<const Eigen::VectorXd>& y, const char* what) {
    if (x.rows() != y.size())
        throw argument_error(std::string(what) + ": X has " + std::to_string(x.rows()) +
                             " rows but y has " + std::to_string(y.size()));
    if (x.rows() < 1) throw numerical_error(std::string(what) + ": no rows to fit");
    if (!x.allFinite() || !y.allFinite())
        throw numerical_error(std::string(what) + ": NaN or infinite value in X or y");
}
}  // namespace detail

/// Ordinary least squares with intercept (sklearn LinearRegression + scipy lstsq min-norm).
inline linear_model fit_ols(const Eigen::Ref<const Eigen::MatrixXd>& x,
                            const Eigen::Ref<const Eigen::VectorXd>& y) {
    detail::check_xy(x, y, "linear regression");
    Eigen::RowVectorXd xm = x.colwise().mean();
    double ym = y.mean();
    Eigen::MatrixXd xc = x.rowwise() - xm;
    Eigen::VectorXd yc = y.array() - ym;
    linear_model m;
    if (x.cols() == 0) {
        m.coef.resize(0);
        m.intercept = ym;
        return m;
    }
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(xc, Eigen::ComputeThinU | Eigen::ComputeThinV);
    if (svd.info() != Eigen::Success)
        throw numerical_error("linear regression: SVD did not converge");
    const auto& s = svd.singularValues();
    const double cut = std::numeric_limits<double>::epsilon() * (s.size() ? s[0] : 0.0);
    Eigen::VectorXd uty = svd.matrixU().transpose() * yc;
    Eigen::VectorXd w = Eigen::VectorXd::Zero(x.cols());
    for (Eigen::Index i = 0; i < s.size(); ++i) {
        if (!(s[i] > cut)) continue;
        w += svd.matrixV().col(i) * (uty[i] / s[i]);
        ++m.rank;
    }
    m.coef = w;
    m.intercept = ym - xm.dot(w);
    return m;
}

/// Ridge regression with intercept; the intercept is not penalised (sklearn Ridge).
inline linear_model fit_ridge(const Eigen::Ref<const Eigen::MatrixXd>& x,
                              const Eigen::Ref<const Eigen::VectorXd>& y, double alpha) {
    detail::check_xy(x, y, "ridge regression");
    if (!(alpha > 0)) throw argument_error("ridge regression: alpha must be > 0");
    Eigen::RowVectorXd xm = x.colwise().mean();
    double ym = y.mean();
    Eigen::MatrixXd xc = x.rowwise() - xm;
    Eigen::VectorXd yc = y.array() - ym;
    linear_model m;
    if (xc.cols() <= xc.rows()) {
        Eigen::MatrixXd a = xc.transpose() * xc;
        a.diagonal().array() += alpha;
        Eigen::LLT<Eigen::MatrixXd> llt(a);
        if (llt.info() != Eigen::Success)
            throw numerical_error("ridge regression: Cholesky factorisation failed");
        m.coef = llt.solve(xc.transpose() * yc);
    } else {  // dual (kernel) form, as sklearn's _solve_cholesky_kernel
        Eigen::MatrixXd k = xc * xc.transpose();
        k.diagonal().array() += alpha;
        Eigen::LLT<Eigen::MatrixXd> llt(k);
        if (llt.info() != Eigen::Success)
            throw numerical_error("ridge regression: Cholesky factorisation failed");
        m.coef = xc.transpose() * llt.solve(yc);
    }
    m.rank = xc.cols();
    m.intercept = ym - xm.dot(m.coef);
    return m;
}

/// Lasso with intercept by cyclic coordinate descent (sklearn Lasso, selection = "cyclic").
inline linear_model fit_lasso(const Eigen::Ref<const Eigen::MatrixXd>& x,
                              const Eigen::Ref<const Eigen::VectorXd>& y, double alpha,
                              int max_iter = 1000, double tol = 1e-4) {
    detail::check_xy(x, y, "lasso regression");
    if (!(alpha >= 0)) throw argument_error("lasso regression: alpha must be >= 0");
    const Eigen::Index n = x.rows(), p = x.cols();
    Eigen::RowVectorXd xm = x.colwise().mean();
    double ym = y.mean();
    Eigen::MatrixXd xc = x.rowwise() - xm;
    Eigen::VectorXd yc = y.array() - ym;
    const double l1 = alpha * static_cast<double>(n);
    Eigen::VectorXd w = Eigen::VectorXd::Zero(p);
    Eigen::VectorXd norm2 = xc.colwise().squaredNorm().transpose();
    Eigen::VectorXd r = yc;  // residual y − Xw with w = 0
    const double gap_tol = tol * yc.squaredNorm();
    linear_model m;
    m.converged = false;
    double gap = gap_tol + 1;
    int it = 0;
    for (; it < max_iter; ++it) {
        double w_max = 0, dw_max = 0;
        for (Eigen::Index j = 0; j < p; ++j) {
            if (norm2[j] == 0.0) continue;
            const double w_old = w[j];
            if (w_old != 0.0) r += w_old * xc.col(j);
            const double t = xc.col(j).dot(r);
            const double mag = std::max(std::fabs(t) - l1, 0.0);
            w[j] = (t > 0 ? mag : (t < 0 ? -mag : 0.0)) / norm2[j];
            if (w[j] != 0.0) r -= w[j] * xc.col(j);
            dw_max = std::max(dw_max, std::fabs(w[j] - w_old));
            w_max = std::max(w_max, std::fabs(w[j]));
        }
        if (w_max == 0.0 || dw_max / w_max < tol || it == max_iter - 1) {
            Eigen::VectorXd xta = xc.transpose() * r;
            const double dual_norm = p ? xta.cwiseAbs().maxCoeff() : 0.0;
            const double r2 = r.squaredNorm();
            double cst = 1.0;
            if (dual_norm > l1) {
                cst = l1 / dual_norm;
                gap = 0.5 * (r2 + r2 * cst * cst);
            } else {
                gap = r2;
            }
            gap += l1 * w.cwiseAbs().sum() - cst * r.dot(yc);
            if (gap < gap_tol) {
                m.converged = true;
                ++it;
                break;
            }
        }
    }
    m.n_iter = it;
    m.dual_gap = gap;
    m.coef = w;
    m.rank = p;
    m.intercept = ym - xm.dot(w);
    return m;
}

/// Degree-2 polynomial features without bias, in sklearn's order:
/// x₀…x_{p−1}, then x_i·x_j for i ≤ j in lexicographic (combinations_with_replacement) order.
inline Eigen::MatrixXd polynomial_features2(const Eigen::Ref<const Eigen::MatrixXd>& x) {
    const Eigen::Index n = x.rows(), p = x.cols();
    Eigen::MatrixXd out(n, p + p * (p + 1) / 2);
    out.leftCols(p) = x;
    Eigen::Index c = p;
    for (Eigen::Index i = 0; i < p; ++i)
        for (Eigen::Index j = i; j < p; ++j) out.col(c++) = x.col(i).cwiseProduct(x.col(j));
    return out;
}

/// Names of polynomial_features2 columns ("a", "a^2", "a b") for the input names.
inline std::vector<std::string> polynomial_feature_names2(const std::vector<std::string>& names) {
    std::vector<std::string> out(names);
    for (std::size_t i = 0; i < names.size(); ++i)
        for (std::size_t j = i; j < names.size(); ++j)
            out.push_back(i == j ? names[i] + "^2" : names[i] + " " + names[j]);
    return out;
}

inline Eigen::VectorXd predict(const linear_model& m, const Eigen::Ref<const Eigen::MatrixXd>& x) {
    return ((x * m.coef).array() + m.intercept).matrix();
}

/// Coefficient of determination as sklearn's r2_score (force_finite: constant y gives 1 for a
/// perfect fit, else 0).
inline double r2_score(const Eigen::Ref<const Eigen::VectorXd>& y,
                       const Eigen::Ref<const Eigen::VectorXd>& yhat) {
    double ss_res = (y - yhat).squaredNorm();
    double ss_tot = (y.array() - y.mean()).matrix().squaredNorm();
    if (ss_tot == 0.0) return ss_res == 0.0 ? 1.0 : 0.0;
    return 1.0 - ss_res / ss_tot;
}

/// Root mean squared error.
inline double rmse(const Eigen::Ref<const Eigen::VectorXd>& y,
                   const Eigen::Ref<const Eigen::VectorXd>& yhat) {
    return std::sqrt((y - yhat).squaredNorm() / static_cast<double>(y.size()));
}

}  // namespace stats
POLYGLOT_END_NAMESPACE
