// SPDX-License-Identifier: Apache-2.0
// Length metric: exact values on hand-built records, exact quantiles, merge(split) == one pass,
// and token counts against the tiktoken fixtures (cl100k_base from the data directory).
#define BOOST_TEST_MODULE length
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <fstream>
#include <polyglot/core/error.hpp>
#include <polyglot/io/jsonl.hpp>
#include <polyglot/metrics/length.hpp>
#include <polyglot/text/unicode.hpp>
#include <random>
#include <string>
#include <vector>

#include "support/metric_test.hpp"
#include "support/require_asset.hpp"
#include "test_tokenizers.hpp"

namespace pg = polyglot;
namespace tt = boost::test_tools;
using pg::metrics::count_histogram;
using pg::metrics::length_metric;

namespace {
using namespace metric_test;

double numpy_percentile(std::vector<std::uint64_t> v, double q) {
    std::sort(v.begin(), v.end());
    const double pos = q * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return static_cast<double>(v[lo]) +
           (static_cast<double>(v[hi]) - static_cast<double>(v[lo])) * (pos - std::floor(pos));
}

}  // namespace

BOOST_AUTO_TEST_CASE(histogram_quantiles_match_numpy_definition) {
    std::mt19937_64 rng(7);
    for (std::size_t n : {1u, 2u, 3u, 10u, 101u, 1000u}) {
        std::vector<std::uint64_t> v(n);
        count_histogram h;
        for (auto& x : v) {
            x = rng() % 50;
            h.add(x);
        }
        BOOST_TEST(h.size() == n);
        for (double q : {0.0, 0.5, 0.9, 1.0})
            BOOST_TEST(h.quantile(q) == numpy_percentile(v, q), tt::tolerance(1e-12));
        BOOST_TEST(h.max() == static_cast<double>(*std::max_element(v.begin(), v.end())));
    }
    BOOST_TEST(std::isnan(count_histogram{}.quantile(0.5)));
}

BOOST_AUTO_TEST_CASE(exact_values_on_hand_built_records) {
    // Byte tokenizer: tokens = bytes. "é" is 2 bytes, 1 code point.
    length_metric m(pg::testing::bytes());
    auto recs =
        make_records({"a", "bb", "ccc", "", "dddddddddd"}, {"\xc3\xa9", "", "x y", "zz", "w"});
    auto s = pg::metrics::run_serial(m, recs);
    BOOST_TEST(s.prompts.n == 5u);
    auto js = finalize_json(m, s);
    BOOST_TEST(json_number(js, "prompts_average_length") == 16.0 / 5, tt::tolerance(1e-12));
    BOOST_TEST(json_number(js, "prompts_median_length") == 2.0);
    BOOST_TEST(json_number(js, "prompts_p90_length") == 7.2, tt::tolerance(1e-12));  // 3 + 0.6 * 7
    BOOST_TEST(json_number(js, "prompts_max_length") == 10.0);
    BOOST_TEST(json_number(js, "responses_average_length") == 8.0 / 5, tt::tolerance(1e-12));
    BOOST_TEST(json_number(js, "responses_average_bytes") == 8.0 / 5, tt::tolerance(1e-12));
    BOOST_TEST(json_number(js, "responses_average_code_points") == 7.0 / 5, tt::tolerance(1e-12));
    double words = 0;
    for (const auto& r : recs) words += static_cast<double>(pg::text::count_words(r.response));
    BOOST_TEST(json_number(js, "responses_average_words") == words / 5, tt::tolerance(1e-12));
    BOOST_TEST(words == 5.0);  // é, x, y, zz, w
    BOOST_TEST(js.find("\"tokenizer\":\"test:bytes\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(per_instance_values) {
    length_metric m(pg::testing::bytes());
    auto recs = make_records({"abc"}, {""});
    auto s = m.make_state();
    pg::instance_values iv;
    m.accumulate(s, recs[0], iv);
    BOOST_REQUIRE_EQUAL(iv.items().size(), 2u);
    BOOST_TEST(iv.items()[0].first == "prompt_tokens");
    BOOST_TEST(std::get<std::int64_t>(iv.items()[0].second) == 3);
    BOOST_TEST(std::get<std::int64_t>(iv.items()[1].second) == 0);
}

BOOST_AUTO_TEST_CASE(empty_set_gives_null) {
    length_metric m(pg::testing::bytes());
    auto js = finalize_json(m, m.make_state());
    BOOST_TEST(js.find("\"prompts_average_length\":null") != std::string::npos);
    BOOST_TEST(js.find("\"responses_max_length\":null") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(merge_of_any_split_equals_one_pass) {
    length_metric m(pg::testing::bytes());
    std::vector<std::string> p, r;
    std::mt19937 rng(3);
    for (int i = 0; i < 60; ++i) {
        p.emplace_back(rng() % 40, 'a' + static_cast<char>(i % 26));
        r.emplace_back(rng() % 300, '\xd0');
        r.back() = "\xd0\x96 words and " + std::to_string(i);
    }
    auto recs = make_records(p, r);
    auto whole = pg::metrics::run_serial(m, recs);
    for (std::size_t cut1 : {0u, 1u, 17u, 59u, 60u})
        for (std::size_t cut2 : {cut1, std::min<std::size_t>(cut1 + 9, 60)}) {
            std::vector<pg::record> a(recs.begin(), recs.begin() + static_cast<long>(cut1));
            std::vector<pg::record> b(recs.begin() + static_cast<long>(cut1),
                                      recs.begin() + static_cast<long>(cut2));
            std::vector<pg::record> c(recs.begin() + static_cast<long>(cut2), recs.end());
            auto s = pg::metrics::run_serial(m, a);
            m.merge(s, pg::metrics::run_serial(m, b));
            m.merge(s, pg::metrics::run_serial(m, c));
            BOOST_TEST((s == whole), "cut " << cut1 << "," << cut2);
            BOOST_TEST(finalize_json(m, s) == finalize_json(m, whole));
        }
}

BOOST_AUTO_TEST_CASE(cl100k_token_counts_match_tiktoken_fixtures) {
    const std::string fixture =
        pg::testing::require_shared("fixtures/tokenizers/cl100k_base.jsonl").string();
    pg::testing::require_data_asset("cl100k_base.json");
    const auto tok = pg::text::open_tokenizer("cl100k_base");
    // The fixture's texts and ids (tiktoken encode_ordinary), read with our own JSONL reader.
    pg::io::jsonl_options o;
    o.prompt_field = "text";
    o.response_field = "text";
    auto pc = pg::io::read_all(fixture, o);
    BOOST_REQUIRE(pc.records.size() > 10u);
    std::ifstream in(fixture);
    std::string line;
    std::vector<std::size_t> expected;
    while (std::getline(in, line)) {
        auto ids = line.substr(line.rfind("\"ids\":[") + 7);
        ids = ids.substr(0, ids.find(']'));
        expected.push_back(
            ids.empty() ? 0
                        : static_cast<std::size_t>(std::count(ids.begin(), ids.end(), ',') + 1));
    }
    BOOST_REQUIRE_EQUAL(expected.size(), pc.records.size());
    length_metric m(tok);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < pc.records.size(); ++i) {
        auto s = m.make_state();
        pg::instance_values iv;
        m.accumulate(s, pc.records[i], iv);
        BOOST_TEST(
            std::get<std::int64_t>(iv.items()[0].second) == static_cast<std::int64_t>(expected[i]),
            "text " << i);
        total += expected[i];
    }
    auto s = pg::metrics::run_serial(m, pc.records);
    BOOST_TEST(s.prompts.token_sum == total);
}
