// SPDX-License-Identifier: Apache-2.0
// Perplexity metric: the exact formulas on hand-built LM scores, exclusions, merge identity.
#define BOOST_TEST_MODULE perplexity
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <numbers>
#include <polyglot/metrics/perplexity.hpp>
#include <string>
#include <vector>

#include "support/report.hpp"

namespace pg = polyglot;
namespace tt = boost::test_tools;
using pg::metrics::perplexity_metric;

namespace {
using polyglot::testing::finalize_json;
using polyglot::testing::json_number;
struct fixture {
    std::vector<std::string> responses{"abcd", "\xc3\xa9t\xc3\xa9", "xy", "nan", "inf", "none",
                                       "big"};
    std::vector<pg::lm_score> scores{
        {2.0, 4, 5, 4, false},  // mean 0.5
        {3.0, 2, 5, 2, true},   // mean 1.5, truncated
        {0.0, 1, 1, 1, false},  // mean 0 → ppl 1
        {std::numeric_limits<double>::quiet_NaN(), 3, 1, 3, false},
        {std::numeric_limits<double>::infinity(), 3, 1, 3, false},
        {0.0, 0, 1, 0, false},     // nothing scored
        {1000.0, 1, 1, 1, false},  // exp(1000) overflows
    };
    std::vector<pg::record> recs;
    fixture() {
        recs.resize(responses.size());
        for (std::size_t i = 0; i < recs.size(); ++i) {
            recs[i].response = responses[i];
            recs[i].lm = &scores[i];
        }
    }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(formulas_and_exclusions, fixture) {
    perplexity_metric m("test-model");
    auto s = pg::metrics::run_serial(m, recs);
    auto js = finalize_json(m, s);
    const double avg = (std::exp(0.5) + std::exp(1.5) + 1.0) / 3;
    BOOST_TEST(json_number(js, "average_perplexity") == avg, tt::tolerance(1e-14));
    BOOST_TEST(json_number(js, "corpus_perplexity") == std::exp(5.0 / 7), tt::tolerance(1e-14));
    // bytes of valid responses: 4 + 5 + 2
    BOOST_TEST(json_number(js, "bits_per_byte") == 5.0 / std::numbers::ln2 / 11,
               tt::tolerance(1e-14));
    BOOST_TEST(json_number(js, "num_valid_samples") == 3);
    BOOST_TEST(json_number(js, "num_nan_values") == 1);
    BOOST_TEST(json_number(js, "num_inf_values") == 2);
    BOOST_TEST(json_number(js, "num_no_scored_tokens") == 1);
    BOOST_TEST(json_number(js, "num_truncated") == 1);
    BOOST_TEST(json_number(js, "total_samples") == 7);
    BOOST_TEST(js.find("\"base_model\":\"test-model\"") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(per_instance_values, fixture) {
    perplexity_metric m;
    auto s = m.make_state();
    pg::instance_values iv;
    m.accumulate(s, recs[1], iv);
    BOOST_REQUIRE_EQUAL(iv.items().size(), 3u);
    BOOST_TEST(iv.items()[0].first == "response_bytes");
    BOOST_TEST(std::get<std::int64_t>(iv.items()[0].second) == 5);
    BOOST_TEST(iv.items()[1].first == "mean_nll");
    BOOST_TEST(std::get<double>(iv.items()[1].second) == 1.5);
    BOOST_TEST(std::get<double>(iv.items()[2].second) == std::exp(1.5), tt::tolerance(1e-15));
}

BOOST_FIXTURE_TEST_CASE(merge_in_order_equals_one_pass, fixture) {
    perplexity_metric m;
    const auto whole = pg::metrics::run_serial(m, recs);
    for (std::size_t cut = 0; cut <= recs.size(); ++cut) {
        std::vector<pg::record> a(recs.begin(), recs.begin() + static_cast<long>(cut));
        std::vector<pg::record> b(recs.begin() + static_cast<long>(cut), recs.end());
        auto s = pg::metrics::run_serial(m, a);
        m.merge(s, pg::metrics::run_serial(m, b));
        // Exactly, for any cut: the sums are exact (metrics/exact_sum.hpp).
        BOOST_TEST(s.valid == whole.valid);
        BOOST_TEST((s.sum_nll == whole.sum_nll));
        BOOST_TEST((s.sum_perplexity == whole.sum_perplexity));
        BOOST_TEST(s.sum_perplexity.value() == whole.sum_perplexity.value());
    }
}

BOOST_AUTO_TEST_CASE(empty_and_missing) {
    perplexity_metric m;
    pg::record r;  // no LM score attached
    std::vector<pg::record> recs{r};
    auto js = finalize_json(m, pg::metrics::run_serial(m, recs));
    BOOST_TEST(std::isnan(json_number(js, "average_perplexity")));
    BOOST_TEST(json_number(js, "num_missing_scores") == 1);
}
