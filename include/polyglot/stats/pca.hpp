// SPDX-License-Identifier: Apache-2.0
/// @file Principal component analysis by SVD of the centered data (scikit-learn's PCA with
/// n_components = min(n_samples, n_features), svd_solver = "full").
///
/// Sign convention (stated, as sklearn ≥ 1.5 and the reference's pca_results.json): every
/// component (row of `components`) is flipped so that its entry of largest absolute value is
/// positive (first such entry on exact ties). Scores flip with it, so predictions never change.
///
/// Rank: `rank` = number of singular values above max(n, p)·eps·s_max (numpy.linalg.matrix_rank's
/// tolerance). Components past the rank span the data's null space: their explained variance is
/// (numerically) 0 and their direction is arbitrary, so callers should not interpret them;
/// regressions in polyglot use only the first `rank` components (docs/analysis.md).
#pragma once

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

struct pca_result {
    Eigen::MatrixXd components;                ///< k × p, rows = principal axes (loadings)
    Eigen::VectorXd singular_values;           ///< k, descending
    Eigen::VectorXd explained_variance;        ///< k, s² / (n − 1)
    Eigen::VectorXd explained_variance_ratio;  ///< k, s² / Σ s²
    Eigen::VectorXd mean;                      ///< p, column means removed before the SVD
    Eigen::Index rank = 0;                     ///< numerical rank (see file comment)
    Eigen::Index n_samples = 0;
};

/// Fits a PCA on @p x (rows = samples, no NaN). Needs at least 2 rows.
/// @throws numerical_error on NaN/inf input, < 2 rows, an SVD failure, or all-zero variance.
inline pca_result fit_pca(const Eigen::Ref<const Eigen::MatrixXd>& x) {
    const Eigen::Index n = x.rows(), p = x.cols();
    if (n < 2 || p < 1)
        throw numerical_error("pca: need at least 2 rows and 1 column (got " + std::to_string(n) +
                              "×" + std::to_string(p) + ")");
    if (!x.allFinite()) throw numerical_error("pca: input contains NaN or infinite values");
    pca_result r;
    r.n_samples = n;
    r.mean = x.colwise().mean().transpose();
    Eigen::MatrixXd xc = x.rowwise() - r.mean.transpose();
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(xc, Eigen::ComputeThinU | Eigen::ComputeThinV);
    if (svd.info() != Eigen::Success) throw numerical_error("pca: SVD did not converge");
    const Eigen::Index k = std::min(n, p);
    r.singular_values = svd.singularValues().head(k);
    Eigen::MatrixXd v = svd.matrixV().leftCols(k);  // p × k
    r.components = v.transpose();
    for (Eigen::Index c = 0; c < k; ++c) {
        Eigen::Index arg = 0;
        r.components.row(c).cwiseAbs().maxCoeff(&arg);
        if (r.components(c, arg) < 0) r.components.row(c) *= -1.0;
    }
    r.explained_variance = r.singular_values.array().square() / static_cast<double>(n - 1);
    double total = r.explained_variance.sum();
    if (!(total > 0)) throw numerical_error("pca: every column is constant (total variance 0)");
    r.explained_variance_ratio = r.explained_variance / total;
    const double tol = static_cast<double>(std::max(n, p)) *
                       std::numeric_limits<double>::epsilon() * r.singular_values[0];
    r.rank = 0;
    for (Eigen::Index c = 0; c < k; ++c)
        if (r.singular_values[c] > tol) ++r.rank;
    return r;
}

/// Projects rows of @p x on the components: (x − mean) · componentsᵀ (n × k).
inline Eigen::MatrixXd pca_transform(const pca_result& r,
                                     const Eigen::Ref<const Eigen::MatrixXd>& x) {
    if (x.cols() != r.mean.size())
        throw argument_error("pca: fitted on " + std::to_string(r.mean.size()) +
                             " columns, applied to " + std::to_string(x.cols()));
    Eigen::MatrixXd xc = x.rowwise() - r.mean.transpose();
    return (xc * r.components.transpose()).eval();
}

/// Cumulative sums of @p v.
inline Eigen::VectorXd cumulative(const Eigen::Ref<const Eigen::VectorXd>& v) {
    Eigen::VectorXd out(v.size());
    double acc = 0;
    for (Eigen::Index i = 0; i < v.size(); ++i) out[i] = acc += v[i];
    return out;
}

}  // namespace stats
POLYGLOT_END_NAMESPACE
