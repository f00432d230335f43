// SPDX-License-Identifier: Apache-2.0
// Statistics kernels against goldens computed by tests/oracles/analysis_oracle.py
// (scikit-learn 1.2 / scipy 1.10), tolerance 1e-8 unless stated.
#define BOOST_TEST_MODULE stats
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <polyglot/json/value.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/stats/bootstrap.hpp>
#include <polyglot/stats/pca.hpp>
#include <polyglot/stats/regression.hpp>
#include <polyglot/stats/spearman.hpp>
#include <polyglot/stats/standardize.hpp>
#include <string>
#include <vector>

namespace tt = boost::test_tools;
using namespace polyglot;

namespace {
const std::string gold = "tests/data/analysis/golden/";
constexpr double tol = 1e-8;

std::vector<double> numbers(const analysis::json_value* v) {
    BOOST_REQUIRE(v && v->is_array());
    std::vector<double> out;
    for (const auto& x : v->as_array()) out.push_back(x.is_null() ? NAN : x.as_number());
    return out;
}

Eigen::MatrixXd matrix(const analysis::json_value* v) {
    BOOST_REQUIRE(v && v->is_array());
    const auto& rows = v->as_array();
    Eigen::MatrixXd m(static_cast<Eigen::Index>(rows.size()),
                      rows.empty() ? 0 : static_cast<Eigen::Index>(rows[0].as_array().size()));
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
        auto r = numbers(&rows[static_cast<std::size_t>(i)]);
        for (Eigen::Index j = 0; j < m.cols(); ++j) m(i, j) = r[static_cast<std::size_t>(j)];
    }
    return m;
}

Eigen::MatrixXd features_of(const std::string& csv) {
    auto t = analysis::read_table(csv);
    const char* f[] = {"prompts_distinct_ri",    "responses_distinct_ri",
                       "average_perplexity",     "average_rubric_score",
                       "prompts_average_length", "responses_average_length"};
    Eigen::MatrixXd x(static_cast<Eigen::Index>(t.size()), 6);
    for (std::size_t i = 0; i < t.size(); ++i)
        for (int j = 0; j < 6; ++j)
            x(static_cast<Eigen::Index>(i), j) = t.number(i, t.require_column(f[j]));
    return x;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(standardize)

BOOST_AUTO_TEST_CASE(matches_standard_scaler) {
    for (const char* c : {"full", "constant", "rank_deficient"}) {
        auto g = analysis::read_json_file(gold + "pca_" + c + ".json");
        auto x = features_of(std::string("tests/data/analysis/pca_") +
                             (std::string(c) == "full" ? "full" : c) + ".csv");
        auto s = stats::fit_scaler(x);
        auto mean = numbers(g.find("scaler_mean")), scale = numbers(g.find("scaler_scale"));
        for (int j = 0; j < 6; ++j) {
            BOOST_TEST(s.mean[j] == mean[static_cast<std::size_t>(j)], tt::tolerance(tol));
            BOOST_TEST(s.scale[j] == scale[static_cast<std::size_t>(j)], tt::tolerance(tol));
        }
        Eigen::MatrixXd z = stats::transform(s, x), gz = matrix(g.find("standardized"));
        BOOST_TEST((z - gz).cwiseAbs().maxCoeff() < tol);
        BOOST_TEST(s.constant[3] == (std::string(c) == "constant"));
    }
}

BOOST_AUTO_TEST_CASE(constant_nan_inf) {
    Eigen::MatrixXd x(4, 3);
    x << 1, 5, NAN, 2, 5, 1, 3, 5, 3, 4, 5, NAN;
    auto s = stats::fit_scaler(x);
    BOOST_TEST(s.constant[1]);
    BOOST_TEST(s.scale[1] == 1.0);  // sklearn: constant columns keep scale 1 → all zeros
    BOOST_TEST(s.n_seen[2] == 2u);  // NaN ignored when fitting
    BOOST_TEST(s.mean[2] == 2.0);
    BOOST_TEST(s.scale[2] == 1.0);  // population SD of {1, 3}
    auto z = stats::transform(s, x);
    BOOST_TEST(z.col(1).cwiseAbs().maxCoeff() == 0.0);
    BOOST_TEST(std::isnan(z(0, 2)));  // NaN stays NaN
    BOOST_TEST(z(3, 0) == std::sqrt(1.8), tt::tolerance(1e-12));
    Eigen::MatrixXd allnan(2, 1);
    allnan << NAN, NAN;
    BOOST_CHECK_THROW(stats::fit_scaler(allnan, {"rubric"}), numerical_error);
    Eigen::MatrixXd inf(2, 1);
    inf << 1, INFINITY;
    BOOST_CHECK_THROW(stats::fit_scaler(inf), numerical_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pca)

BOOST_AUTO_TEST_CASE(sign_convention_and_errors) {
    Eigen::MatrixXd x(5, 2);
    x << 1, -2, 2, -4.1, 3, -6, 4, -8.2, 5, -9.9;
    auto r = stats::fit_pca(x);
    for (Eigen::Index c = 0; c < r.components.rows(); ++c) {
        Eigen::Index arg;
        r.components.row(c).cwiseAbs().maxCoeff(&arg);
        BOOST_TEST(r.components(c, arg) > 0);
    }
    BOOST_TEST(r.explained_variance_ratio.sum() == 1.0, tt::tolerance(1e-12));
    Eigen::MatrixXd one(1, 3);
    one << 1, 2, 3;
    BOOST_CHECK_THROW(stats::fit_pca(one), numerical_error);
    Eigen::MatrixXd bad(3, 2);
    bad << 1, 2, NAN, 4, 5, 6;
    BOOST_CHECK_THROW(stats::fit_pca(bad), numerical_error);
    Eigen::MatrixXd flat = Eigen::MatrixXd::Ones(4, 2);
    BOOST_CHECK_THROW(stats::fit_pca(flat), numerical_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(regression)

BOOST_AUTO_TEST_CASE(lasso_coordinate_descent_matches_sklearn) {
    auto g = analysis::read_json_file(gold + "lasso_direct.json");
    Eigen::MatrixXd x = matrix(g.find("X"));
    auto yv = numbers(g.find("y"));
    Eigen::VectorXd y =
        Eigen::Map<Eigen::VectorXd>(yv.data(), static_cast<Eigen::Index>(yv.size()));
    for (const auto& fit : g.find("fits")->as_array()) {
        double alpha = fit.find("alpha")->as_number();
        auto m = stats::fit_lasso(x, y, alpha);
        auto coef = numbers(fit.find("coefficients"));
        for (std::size_t j = 0; j < coef.size(); ++j)
            BOOST_TEST(m.coef[static_cast<Eigen::Index>(j)] == coef[j], tt::tolerance(tol));
        BOOST_TEST(m.intercept == fit.find("intercept")->as_number(), tt::tolerance(tol));
        BOOST_TEST(m.n_iter == static_cast<int>(fit.find("n_iter")->as_number()));
        BOOST_TEST(m.converged);
    }
}

BOOST_AUTO_TEST_CASE(ols_min_norm_ridge_r2) {
    // two identical columns: the minimum-norm solution splits the weight equally
    Eigen::MatrixXd x(4, 2);
    x << 1, 1, 2, 2, 3, 3, 4, 4;
    Eigen::VectorXd y(4);
    y << 2, 4, 6, 8;
    auto m = stats::fit_ols(x, y);
    BOOST_TEST(m.rank == 1);
    BOOST_TEST(m.coef[0] == 1.0, tt::tolerance(1e-12));
    BOOST_TEST(m.coef[1] == 1.0, tt::tolerance(1e-12));
    BOOST_TEST(std::fabs(m.intercept) < 1e-12);
    auto r =
        stats::fit_ridge(x, y, 1.0);  // centred: XᵀX = [[5,5],[5,5]], Xᵀy = [10,10] → w = 10/11
    BOOST_TEST(r.coef[0] == r.coef[1], tt::tolerance(1e-12));
    BOOST_TEST(r.coef[0] == 10.0 / 11.0, tt::tolerance(1e-12));
    BOOST_CHECK_THROW(stats::fit_ridge(x, y, 0.0), argument_error);
    Eigen::VectorXd c = Eigen::VectorXd::Constant(4, 3.0);
    BOOST_TEST(stats::r2_score(c, c) == 1.0);
    BOOST_TEST(stats::r2_score(c, y) == 0.0);
    Eigen::VectorXd ynan = y;
    ynan[0] = NAN;
    BOOST_CHECK_THROW(stats::fit_ols(x, ynan), numerical_error);
}

BOOST_AUTO_TEST_CASE(polynomial_order) {
    Eigen::MatrixXd x(1, 3);
    x << 2, 3, 5;
    auto p = stats::polynomial_features2(x);
    std::vector<double> want{2, 3, 5, 4, 6, 10, 9, 15, 25};  // sklearn's order
    BOOST_REQUIRE(p.cols() == 9);
    for (int j = 0; j < 9; ++j) BOOST_TEST(p(0, j) == want[static_cast<std::size_t>(j)]);
    auto names = stats::polynomial_feature_names2({"a", "b", "c"});
    BOOST_TEST(names[4] == "a b");
    BOOST_TEST(names[6] == "b^2");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(spearman)

BOOST_AUTO_TEST_CASE(matches_scipy) {
    auto g = analysis::read_json_file(gold + "spearman.json");
    std::size_t n_exact = 0;
    for (const auto& c : g.find("cases")->as_array()) {
        auto x = numbers(c.find("x")), y = numbers(c.find("y"));
        auto r = stats::spearman(x, y);
        const std::string name = c.find("name")->as_string();
        BOOST_TEST_CONTEXT(name) {
            BOOST_TEST(r.rho == c.find("rho")->as_number(), tt::tolerance(tol));
            double p = c.find("p")->as_number();
            BOOST_TEST(std::fabs(r.p - p) < tol);
            auto ranks = numbers(c.find("ranks_x"));
            auto mine = stats::rank_average(x);
            for (std::size_t i = 0; i < ranks.size(); ++i) BOOST_TEST(mine[i] == ranks[i]);
            if (const auto* pe = c.find("p_exact")) {
                BOOST_TEST(std::fabs(r.p_exact - pe->as_number()) < 1e-12);
                ++n_exact;
            } else {
                BOOST_TEST(std::isnan(r.p_exact));
            }
        }
    }
    BOOST_TEST(n_exact >= 5u);
}

BOOST_AUTO_TEST_CASE(stars_and_degenerate) {
    BOOST_TEST(stats::significance_stars(0.0012) == "**");
    BOOST_TEST(stats::significance_stars(0.03) == "*");
    BOOST_TEST(stats::significance_stars(0.05) == "");
    BOOST_TEST(stats::significance_stars(NAN) == "");
    std::vector<double> a{1, 1, 1, 1}, b{1, 2, 3, 4};
    auto r = stats::spearman(a, b);
    BOOST_TEST(std::isnan(r.rho));
    BOOST_TEST(std::isnan(r.p));
    std::vector<double> c{1, NAN};
    std::vector<double> d{1, 2};
    BOOST_CHECK_THROW(stats::spearman(c, d), argument_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bootstrap)

BOOST_AUTO_TEST_CASE(deterministic_and_quantiles) {
    auto draw = [](std::uint64_t seed) {
        std::vector<std::size_t> all;
        stats::bootstrap_indices(7, 50, seed, [&](const auto& idx) {
            for (auto i : idx) {
                BOOST_TEST(i < 7u);
                all.push_back(i);
            }
        });
        return all;
    };
    BOOST_TEST(draw(1) == draw(1));
    BOOST_TEST(draw(1) != draw(2));
    std::vector<double> v{4, 1, 3, 2, 5};
    BOOST_TEST(stats::quantile_sorted(v, 0.5) == 3.0);
    BOOST_TEST(stats::quantile_sorted(v, 0.1) == 1.4, tt::tolerance(1e-12));  // numpy "linear"
    auto iv = stats::percentile_interval({1, 2, 3, 4, 5, NAN}, 0.5);
    BOOST_TEST(iv.lo == 2.0);
    BOOST_TEST(iv.hi == 4.0);
    BOOST_TEST(iv.se == std::sqrt(2.5), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
