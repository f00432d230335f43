// SPDX-License-Identifier: Apache-2.0
/// @file The reference's variance decomposition (analysis/principal_components.py) plus what it
/// should have reported: standardize (ddof 0) → PCA → regress a target on the component scores
/// with linear / ridge / lasso / quadratic models; R² and RMSE in-sample (the reference's numbers)
/// and leave-one-out cross-validated, refitting the scaler, the PCA and the model inside every
/// fold (sklearn: cross_val_predict(make_pipeline(StandardScaler(), PCA(k), model),
/// LeaveOneOut())).
///
/// Components past the numerical rank (see pca.hpp) are left out of the regressions: their scores
/// are rounding noise, and a least-squares fit on noise columns is meaningless. `n_components`
/// reports how many were used. The oracle in tests/oracles/pca_oracle.py does the same.
#pragma once

#include <algorithm>
#include <polyglot/stats/pca.hpp>
#include <polyglot/stats/regression.hpp>
#include <polyglot/stats/standardize.hpp>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace stats {

struct pca_regression_options {
    /// Models to fit, any of "linear", "ridge", "lasso", "quadratic" (in this order of report).
    std::vector<std::string> models{"linear", "ridge", "lasso", "quadratic"};
    double ridge_alpha = 1.0;
    double lasso_alpha = 0.1;
    int lasso_max_iter = 1000;
    double lasso_tol = 1e-4;
    /// Components to regress on; 0 = the numerical rank of the full-data PCA.
    Eigen::Index n_components = 0;
    bool leave_one_out = true;
};

struct model_fit {
    std::string name;
    linear_model model;       ///< fitted on all rows (coefficients on the component scores)
    double r2 = 0, rmse = 0;  ///< in-sample
    double loo_r2 = std::numeric_limits<double>::quiet_NaN();
    double loo_rmse = std::numeric_limits<double>::quiet_NaN();
    Eigen::VectorXd fitted;  ///< in-sample predictions
    Eigen::VectorXd loo_predictions;
};

struct pca_regression_result {
    scaler scaling;
    pca_result pca;
    Eigen::MatrixXd scores;  ///< n × k component scores used in the regressions
    Eigen::Index n_components = 0;
    std::vector<model_fit> models;
    std::string best_model;      ///< highest in-sample R² (the reference's choice)
    std::string best_model_loo;  ///< highest leave-one-out R² (what one should choose by)
};

namespace detail {
inline linear_model fit_named(const std::string& name, const Eigen::Ref<const Eigen::MatrixXd>& z,
                              const Eigen::Ref<const Eigen::VectorXd>& y,
                              const pca_regression_options& o) {
    if (name == "linear") return fit_ols(z, y);
    if (name == "ridge") return fit_ridge(z, y, o.ridge_alpha);
    if (name == "lasso") return fit_lasso(z, y, o.lasso_alpha, o.lasso_max_iter, o.lasso_tol);
    if (name == "quadratic") return fit_ols(polynomial_features2(z), y);
    throw argument_error("unknown model '" + name + "' (linear, ridge, lasso, quadratic)");
}
inline Eigen::MatrixXd design(const std::string& name, const Eigen::Ref<const Eigen::MatrixXd>& z) {
    return name == "quadratic" ? polynomial_features2(z) : Eigen::MatrixXd(z);
}
}  // namespace detail

/// Runs the pipeline on features @p x (rows = samples) and target @p y.
/// @throws numerical_error for NaN input, fewer than 3 rows, or a failed decomposition.
inline pca_regression_result pca_regression(const Eigen::Ref<const Eigen::MatrixXd>& x,
                                            const Eigen::Ref<const Eigen::VectorXd>& y,
                                            const pca_regression_options& o = {},
                                            const std::vector<std::string>& names = {}) {
    if (x.rows() != y.size())
        throw argument_error("pca regression: " + std::to_string(x.rows()) + " feature rows but " +
                             std::to_string(y.size()) + " targets");
    if (x.rows() < 3) throw numerical_error("pca regression: need at least 3 rows");
    if (!x.allFinite() || !y.allFinite())
        throw numerical_error("pca regression: NaN or infinite value in the features or target");
    pca_regression_result r;
    r.scaling = fit_scaler(x, names);
    Eigen::MatrixXd xs = transform(r.scaling, x);
    r.pca = fit_pca(xs);
    Eigen::Index k =
        o.n_components > 0 ? std::min<Eigen::Index>(o.n_components, r.pca.rank) : r.pca.rank;
    r.n_components = k;
    r.scores = pca_transform(r.pca, xs).leftCols(k);
    const Eigen::Index n = x.rows();
    double best = -std::numeric_limits<double>::infinity(), best_loo = best;
    for (const auto& name : o.models) {
        model_fit f;
        f.name = name;
        f.model = detail::fit_named(name, r.scores, y, o);
        f.fitted = predict(f.model, detail::design(name, r.scores));
        f.r2 = r2_score(y, f.fitted);
        f.rmse = rmse(y, f.fitted);
        if (o.leave_one_out) {
            f.loo_predictions.resize(n);
            Eigen::MatrixXd xi(n - 1, x.cols());
            Eigen::VectorXd yi(n - 1);
            for (Eigen::Index i = 0; i < n; ++i) {
                if (i > 0) xi.topRows(i) = x.topRows(i);
                if (i < n - 1) xi.bottomRows(n - 1 - i) = x.bottomRows(n - 1 - i);
                if (i > 0) yi.head(i) = y.head(i);
                if (i < n - 1) yi.tail(n - 1 - i) = y.tail(n - 1 - i);
                scaler s = fit_scaler(xi, names);
                Eigen::MatrixXd xis = transform(s, xi);
                pca_result p = fit_pca(xis);
                Eigen::Index kk = std::min<Eigen::Index>(k, p.components.rows());
                Eigen::MatrixXd zi = pca_transform(p, xis).leftCols(kk);
                linear_model m = detail::fit_named(name, zi, yi, o);
                Eigen::MatrixXd zt = pca_transform(p, transform(s, x.row(i))).leftCols(kk);
                f.loo_predictions[i] = predict(m, detail::design(name, zt))[0];
            }
            f.loo_r2 = r2_score(y, f.loo_predictions);
            f.loo_rmse = rmse(y, f.loo_predictions);
        }
        if (f.r2 > best) {
            best = f.r2;
            r.best_model = name;
        }
        if (o.leave_one_out && f.loo_r2 > best_loo) {
            best_loo = f.loo_r2;
            r.best_model_loo = name;
        }
        r.models.push_back(std::move(f));
    }
    return r;
}

}  // namespace stats
POLYGLOT_END_NAMESPACE
