// SPDX-License-Identifier: Apache-2.0
// PCA + regressions against scikit-learn goldens (tests/oracles/analysis_oracle.py): a full-rank
// table, a rank-deficient one and one with a constant column; in-sample and leave-one-out; and
// the `polyglot pca --json` interface.
#define BOOST_TEST_MODULE pca
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <polyglot/json/value.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/stats/pca_regression.hpp>
#include <string>
#include <vector>

#include "support/require_asset.hpp"
#include "test_cli.hpp"

namespace tt = boost::test_tools;
using namespace polyglot;

namespace {
using polyglot::testing::cli_stdout;
const std::string data = "tests/data/analysis/";
constexpr double tol = 1e-8;
const std::vector<std::string> features{"prompts_distinct_ri",    "responses_distinct_ri",
                                        "average_perplexity",     "average_rubric_score",
                                        "prompts_average_length", "responses_average_length"};

std::vector<double> numbers(const analysis::json_value* v) {
    BOOST_REQUIRE(v && v->is_array());
    std::vector<double> out;
    for (const auto& x : v->as_array()) out.push_back(x.is_null() ? NAN : x.as_number());
    return out;
}

double max_diff(const Eigen::VectorXd& a, const std::vector<double>& b) {
    BOOST_REQUIRE(static_cast<std::size_t>(a.size()) == b.size());
    double d = 0;
    for (std::size_t i = 0; i < b.size(); ++i)
        d = std::max(d, std::fabs(a[static_cast<Eigen::Index>(i)] - b[i]));
    return d;
}

void check_case(const std::string& golden, const std::string& csv) {
    auto g = analysis::read_json_file(data + "golden/" + golden);
    auto t = analysis::read_table(data + csv);
    const std::string target = g.find("target")->as_string();
    Eigen::MatrixXd x(static_cast<Eigen::Index>(t.size()), 6);
    Eigen::VectorXd y(static_cast<Eigen::Index>(t.size()));
    for (std::size_t i = 0; i < t.size(); ++i) {
        for (int j = 0; j < 6; ++j)
            x(static_cast<Eigen::Index>(i), j) =
                t.number(i, t.require_column(features[static_cast<std::size_t>(j)]));
        y[static_cast<Eigen::Index>(i)] = t.number(i, t.require_column(target));
    }
    auto r = stats::pca_regression(x, y, {}, features);
    const auto rank = static_cast<Eigen::Index>(g.find("rank")->as_number());
    BOOST_TEST(r.pca.rank == rank);
    BOOST_TEST(r.n_components == rank);
    BOOST_TEST(max_diff(r.pca.explained_variance_ratio,
                        numbers(g.find("explained_variance_ratio"))) < tol);
    const auto& comps = g.find("components")->as_array();
    BOOST_REQUIRE(static_cast<Eigen::Index>(comps.size()) == rank);
    for (Eigen::Index c = 0; c < rank; ++c)
        BOOST_TEST(max_diff(r.pca.components.row(c).transpose(),
                            numbers(&comps[static_cast<std::size_t>(c)])) < tol);
    const auto* models = g.find("models");
    BOOST_REQUIRE(r.models.size() == 4u);
    for (const auto& m : r.models) {
        BOOST_TEST_CONTEXT(golden << " " << m.name) {
            const auto* gm = models->find(m.name);
            BOOST_REQUIRE(gm);
            BOOST_TEST(max_diff(m.model.coef, numbers(gm->find("coefficients"))) < tol);
            BOOST_TEST(m.model.intercept == gm->find("intercept")->as_number(), tt::tolerance(tol));
            BOOST_TEST(std::fabs(m.r2 - gm->find("r2")->as_number()) < tol);
            BOOST_TEST(std::fabs(m.rmse - gm->find("rmse")->as_number()) < tol);
            BOOST_TEST(std::fabs(m.loo_r2 - gm->find("loo_r2")->as_number()) < tol);
            BOOST_TEST(std::fabs(m.loo_rmse - gm->find("loo_rmse")->as_number()) < tol);
            BOOST_TEST(max_diff(m.fitted, numbers(gm->find("fitted"))) < tol);
            BOOST_TEST(max_diff(m.loo_predictions, numbers(gm->find("loo"))) < tol);
            BOOST_TEST(std::isfinite(m.loo_r2));
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(full_rank_result_target) { check_case("pca_full.json", "pca_full.csv"); }
BOOST_AUTO_TEST_CASE(full_rank_pg_like_target) { check_case("pca_full_pg.json", "pca_full.csv"); }
BOOST_AUTO_TEST_CASE(rank_deficient) {
    check_case("pca_rank_deficient.json", "pca_rank_deficient.csv");
}
BOOST_AUTO_TEST_CASE(constant_column) { check_case("pca_constant.json", "pca_constant.csv"); }

BOOST_AUTO_TEST_CASE(lasso_is_not_trivial_here) {
    // guard: the pg_like golden must have non-zero lasso coefficients, else the lasso check is weak
    auto g = analysis::read_json_file(data + "golden/pca_full_pg.json");
    auto c = numbers(g.find("models")->find("lasso")->find("coefficients"));
    std::size_t nonzero = 0;
    for (double v : c) nonzero += v != 0.0;
    BOOST_TEST(nonzero >= 2u);
}

BOOST_AUTO_TEST_CASE(bad_input) {
    Eigen::MatrixXd x = Eigen::MatrixXd::Random(2, 3);
    Eigen::VectorXd y = Eigen::VectorXd::Random(2);
    BOOST_CHECK_THROW(stats::pca_regression(x, y), numerical_error);
    Eigen::MatrixXd x5 = Eigen::MatrixXd::Random(5, 3);
    Eigen::VectorXd y5 = Eigen::VectorXd::Random(5);
    y5[2] = NAN;
    BOOST_CHECK_THROW(stats::pca_regression(x5, y5), numerical_error);
    stats::pca_regression_options o;
    o.models = {"xgboost"};
    BOOST_CHECK_THROW(stats::pca_regression(x5, Eigen::VectorXd::Random(5), o), argument_error);
}

BOOST_AUTO_TEST_CASE(cli_json_interface) {
    int rc = -1;
    auto out =
        cli_stdout("pca " + data + "pca_full.csv --features " +
                       "prompts_distinct_ri,responses_distinct_ri,average_perplexity,"
                       "average_rubric_score,prompts_average_length,responses_average_length "
                       "--target pg_like --json --z-score",
                   &rc);
    BOOST_REQUIRE(rc == 0);
    auto j = analysis::parse_json(out, "pca --json");
    for (const char* k : {"explained_variance_ratio", "cumulative_variance", "pca_components",
                          "feature_names", "models", "best_model", "z_score"})
        BOOST_TEST(j.find(k) != nullptr, "missing key " << k);
    auto g = analysis::read_json_file(data + "golden/pca_full_pg.json");
    for (const char* m : {"linear", "ridge", "lasso", "quadratic"}) {
        const auto* jm = j.find("models")->find(m);
        BOOST_REQUIRE(jm);
        for (const char* k : {"r2", "rmse", "loo_r2", "loo_rmse", "coefficients", "intercept"})
            BOOST_TEST(jm->find(k) != nullptr);
        BOOST_TEST(std::fabs(jm->find("loo_r2")->as_number() -
                             g.find("models")->find(m)->find("loo_r2")->as_number()) < tol);
    }
    auto cum = numbers(j.find("cumulative_variance"));
    BOOST_TEST(cum.back() == 1.0, tt::tolerance(1e-12));
    BOOST_TEST(j.find("z_score")->as_object().size() == 60u);
    BOOST_TEST(j.find("z_score")->find("gemma-3-27b-it|ar") != nullptr);
    // a feature that is not a column: one clear error naming the file and the column
    auto bad = cli_stdout("pca " + data + "pca_full.csv --features nope --target pg_like", &rc);
    BOOST_TEST(rc == 1);
}
