// SPDX-License-Identifier: Apache-2.0
// Lexical metric: exact distinct-n on hand-built records, the hash set, merge(split) identity.
#define BOOST_TEST_MODULE lexical
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <polyglot/metrics/lexical.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/metric_test.hpp"
#include "test_tokenizers.hpp"

namespace pg = polyglot;
namespace tt = boost::test_tools;
using pg::metrics::lexical_metric;
using pg::metrics::u64_set;
using namespace metric_test;

BOOST_AUTO_TEST_CASE(u64_set_matches_std_set) {
    std::mt19937_64 rng(11);
    u64_set s;
    std::set<std::uint64_t> ref;
    for (int i = 0; i < 20000; ++i) {
        std::uint64_t k = rng() % 5000;
        if (i % 1000 == 0) k = std::numeric_limits<std::uint64_t>::max();  // the empty marker
        if (i % 777 == 0) k = 0;
        BOOST_TEST(s.insert(k) == ref.insert(k).second);
    }
    BOOST_TEST(s.size() == ref.size());
    std::set<std::uint64_t> back;
    s.for_each([&](std::uint64_t k) { back.insert(k); });
    BOOST_TEST((back == ref));
}

BOOST_AUTO_TEST_CASE(exact_distinct_n) {
    // Byte tokenizer: ids are bytes. Prompts "abab", "abc": unigrams a,b,a,b,a,b,c → 3 / 7;
    // bigrams ab,ba,ab | ab,bc → {ab, ba, bc} = 3 / 5. N-grams never cross records: responses
    // "ab", "ba" have bigrams ab | ba (no "bb"), 2 / 2, and unigrams {a, b} 2 / 4.
    lexical_metric m(pg::testing::bytes());
    auto recs = make_records({"abab", "abc"}, {"ab", "ba"});
    auto js = finalize_json(m, pg::metrics::run_serial(m, recs));
    BOOST_TEST(json_number(js, "prompts_distinct_1") == 3.0 / 7, tt::tolerance(1e-15));
    BOOST_TEST(json_number(js, "prompts_distinct_2") == 3.0 / 5, tt::tolerance(1e-15));
    BOOST_TEST(json_number(js, "responses_distinct_1") == 0.5, tt::tolerance(1e-15));
    BOOST_TEST(json_number(js, "responses_distinct_2") == 1.0, tt::tolerance(1e-15));
    BOOST_TEST(json_number(js, "prompts_unique_bigrams") == 3.0);
}

BOOST_AUTO_TEST_CASE(edge_cases) {
    lexical_metric m(pg::testing::bytes());
    // Empty texts contribute nothing; one-token texts have no bigram; all-identical tokens.
    auto recs = make_records({"", "x", "zzzz"}, {"", "", ""});
    auto js = finalize_json(m, pg::metrics::run_serial(m, recs));
    BOOST_TEST(json_number(js, "prompts_distinct_1") == 2.0 / 5, tt::tolerance(1e-15));
    BOOST_TEST(json_number(js, "prompts_distinct_2") == 1.0 / 3, tt::tolerance(1e-15));
    BOOST_TEST(std::isnan(json_number(js, "responses_distinct_1")));  // 0 / 0 → null
}

BOOST_AUTO_TEST_CASE(merge_of_split_equals_one_pass) {
    lexical_metric m(pg::testing::bytes());
    std::mt19937 rng(5);
    std::vector<std::string> p, r;
    for (int i = 0; i < 80; ++i) {
        std::string a, b;
        for (unsigned k = rng() % 30; k > 0; --k) a += static_cast<char>('a' + rng() % 6);
        for (unsigned k = rng() % 30; k > 0; --k) b += static_cast<char>('A' + rng() % 20);
        p.push_back(a);
        r.push_back(b);
    }
    auto recs = make_records(p, r);
    const auto whole = finalize_json(m, pg::metrics::run_serial(m, recs));
    for (std::size_t cut : {0u, 1u, 33u, 79u, 80u}) {
        std::vector<pg::record> a(recs.begin(), recs.begin() + static_cast<long>(cut));
        std::vector<pg::record> b(recs.begin() + static_cast<long>(cut), recs.end());
        auto s = pg::metrics::run_serial(m, a);
        m.merge(s, pg::metrics::run_serial(m, b));
        BOOST_TEST(finalize_json(m, s) == whole);
    }
}
