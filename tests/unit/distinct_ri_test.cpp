// SPDX-License-Identifier: Apache-2.0
#define BOOST_TEST_MODULE distinct_ri
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <polyglot/metrics/distinct_ri.hpp>
#include <polyglot/metrics/metric.hpp>
#include <random>
#include <vector>

namespace pm = polyglot::metrics;

namespace {

/// Gaussian rows with a shared offset (mean cosine ≈ offset² / (1 + offset²)).
std::vector<float> random_rows(std::size_t n, std::size_t d, double offset, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<double> mean(d);
    for (auto& m : mean) m = offset * g(rng);
    std::vector<float> rows(n * d);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t k = 0; k < d; ++k) {
            rows[i * d + k] = static_cast<float>(mean[k] + g(rng));
        }
    }
    return rows;
}

double accumulate_all(const std::vector<float>& rows, std::size_t d) {
    pm::distinct_ri_accumulator acc(d);
    acc.add_rows(rows.data(), rows.size() / d);
    return acc.value();
}

}  // namespace

static_assert(pm::metric<pm::distinct_ri_metric>);

BOOST_AUTO_TEST_CASE(small_cases_exact) {
    pm::distinct_ri_accumulator empty(2);
    BOOST_TEST(std::isnan(empty.value()));  // N = 0
    const float a[2] = {1, 0}, b[2] = {0, 1}, c[2] = {2, 0}, m[2] = {-3, 0}, z[2] = {0, 0};
    pm::distinct_ri_accumulator one(2);
    one.add(a);
    BOOST_TEST(std::isnan(one.value()));  // N = 1: no pairs
    auto pair = [](const float* x, const float* y) {
        pm::distinct_ri_accumulator acc(2);
        acc.add(x);
        acc.add(y);
        return acc.value();
    };
    BOOST_TEST(pair(a, b) == 1.0, boost::test_tools::tolerance(1e-12));  // orthogonal
    BOOST_TEST(pair(a, c) == 0.0, boost::test_tools::tolerance(1e-12));  // same direction
    BOOST_TEST(pair(a, m) == 2.0, boost::test_tools::tolerance(1e-12));  // opposite
    BOOST_TEST(pair(a, z) == 1.0, boost::test_tools::tolerance(1e-12));  // zero: cosine 0
    BOOST_TEST(pair(z, z) == 1.0);
    for (const float* x : {a, b, c, m, z}) {
        for (const float* y : {a, b, c, m, z}) {
            const float rows[4] = {x[0], x[1], y[0], y[1]};
            BOOST_TEST(pair(x, y) == pm::distinct_ri_brute_force(rows, 2, 2),
                       boost::test_tools::tolerance(1e-12));
        }
    }
}

BOOST_AUTO_TEST_CASE(identical_and_zero_vectors) {
    const std::size_t d = 19;
    std::vector<float> rows = random_rows(1, d, 0.0, 7);
    std::vector<float> same;
    for (int i = 0; i < 25; ++i) same.insert(same.end(), rows.begin(), rows.end());
    BOOST_TEST(accumulate_all(same, d) == 0.0, boost::test_tools::tolerance(1e-10));
    std::vector<float> zeros(30 * d, 0.0f);
    pm::distinct_ri_accumulator acc(d);
    acc.add_rows(zeros.data(), 30);
    BOOST_TEST(acc.n == 30u);
    BOOST_TEST(acc.nonzero == 0u);
    BOOST_TEST(acc.value() == 1.0);
}

BOOST_AUTO_TEST_CASE(matches_brute_force) {
    struct shape {
        std::size_t n, d;
        double offset;
    };
    unsigned seed = 1;
    for (const shape& s :
         {shape{2, 1, 0.0}, shape{3, 8, 0.0}, shape{50, 37, 0.0}, shape{64, 64, 1.0},
          shape{120, 100, 3.0}, shape{40, 1024, 0.5}, shape{9, 4096, 2.0}}) {
        std::vector<float> rows = random_rows(s.n, s.d, s.offset, seed++);
        // Some zero vectors and a NaN / an infinite one (treated as zero).
        if (s.n > 10) {
            std::fill(rows.begin() + 3 * s.d, rows.begin() + 4 * s.d, 0.0f);
            std::fill(rows.begin() + 7 * s.d, rows.begin() + 8 * s.d, 0.0f);
            rows[5 * s.d] = std::numeric_limits<float>::quiet_NaN();
            rows[6 * s.d + s.d - 1] = std::numeric_limits<float>::infinity();
        }
        pm::distinct_ri_accumulator acc(s.d);
        acc.add_rows(rows.data(), s.n);
        const double want = pm::distinct_ri_brute_force(rows.data(), s.n, s.d);
        BOOST_TEST_INFO("n=" << s.n << " d=" << s.d << " offset=" << s.offset);
        BOOST_TEST(acc.value() == want, boost::test_tools::tolerance(1e-9));
        BOOST_TEST(std::abs(acc.value() - want) < 1e-9);
        if (s.n > 10) {
            BOOST_TEST(acc.nonzero == s.n - 4);
            BOOST_TEST(acc.nonfinite == 2u);
        }
    }
}

BOOST_AUTO_TEST_CASE(double_rows_match_float_rows) {
    const std::size_t n = 30, d = 33;
    std::vector<float> rows = random_rows(n, d, 1.0, 99);
    std::vector<double> drows(rows.begin(), rows.end());
    pm::distinct_ri_accumulator f(d), g(d);
    f.add_rows(rows.data(), n);
    g.add_rows(drows.data(), n);
    BOOST_TEST(f.sum == g.sum);  // same values → same fixed-point sums
    BOOST_TEST(f.value() == g.value());
}

BOOST_AUTO_TEST_CASE(merge_of_shards_is_exactly_one_pass) {
    const std::size_t n = 301, d = 65;
    std::vector<float> rows = random_rows(n, d, 1.5, 2024);
    std::fill(rows.begin() + 10 * d, rows.begin() + 11 * d, 0.0f);
    pm::distinct_ri_accumulator single(d);
    single.add_rows(rows.data(), n);

    for (std::size_t cut1 : {std::size_t{0}, std::size_t{1}, std::size_t{100}}) {
        for (std::size_t cut2 : {std::size_t{150}, std::size_t{300}, n}) {
            pm::distinct_ri_accumulator a(d), b(d), c(d);
            a.add_rows(rows.data(), cut1);
            b.add_rows(rows.data() + cut1 * d, cut2 - cut1);
            c.add_rows(rows.data() + cut2 * d, n - cut2);
            // Merge in a different order too: integer sums are associative and commutative.
            pm::distinct_ri_accumulator left = a, right = c;
            left.merge(b);
            left.merge(c);
            right.merge(a);
            right.merge(b);
            for (const auto* m : {&left, &right}) {
                BOOST_TEST(m->sum == single.sum);
                BOOST_TEST(m->n == single.n);
                BOOST_TEST(m->nonzero == single.nonzero);
                BOOST_TEST(m->value() == single.value());  // bit for bit
            }
        }
    }
    // Merging into a default-constructed (dimensionless) state adopts the dimension.
    pm::distinct_ri_accumulator fresh;
    fresh.merge(single);
    BOOST_TEST(fresh.value() == single.value());
    pm::distinct_ri_accumulator other_dim(d + 1);
    other_dim.add(rows.data());
    BOOST_CHECK_THROW(fresh.merge(other_dim), polyglot::argument_error);
}

BOOST_AUTO_TEST_CASE(metric_section_and_merge) {
    const std::size_t n = 40, d = 16;
    std::vector<float> p = random_rows(n, d, 1.0, 5), r = random_rows(n, d, 0.2, 6);
    std::vector<polyglot::record> records(n);
    for (std::size_t i = 0; i < n; ++i) {
        records[i].prompt_embedding = p.data() + i * d;
        records[i].response_embedding = i == 3 ? nullptr : r.data() + i * d;
        records[i].embedding_dim = d;
    }
    pm::distinct_ri_metric metric;
    auto single = pm::run_serial(metric, records);
    auto first = pm::run_serial(
        metric, std::vector<polyglot::record>(records.begin(), records.begin() + 17));
    auto second =
        pm::run_serial(metric, std::vector<polyglot::record>(records.begin() + 17, records.end()));
    metric.merge(first, second);
    polyglot::io::json_writer w1, w2;
    w1.begin_object();
    metric.finalize(single, w1);
    w1.end_object();
    w2.begin_object();
    metric.finalize(first, w2);
    w2.end_object();
    BOOST_TEST(w1.str() == w2.str());

    std::vector<float> r_without_3;
    for (std::size_t i = 0; i < n; ++i) {
        if (i != 3)
            r_without_3.insert(r_without_3.end(), r.begin() + i * d, r.begin() + (i + 1) * d);
    }
    BOOST_TEST(single.prompts.value() == pm::distinct_ri_brute_force(p.data(), n, d),
               boost::test_tools::tolerance(1e-9));
    BOOST_TEST(
        single.responses.value() == pm::distinct_ri_brute_force(r_without_3.data(), n - 1, d),
        boost::test_tools::tolerance(1e-9));
    BOOST_TEST(single.responses.n == n - 1);
    BOOST_TEST(single.records_without_response_embedding == 1u);
    const std::string& json = w1.str();
    BOOST_TEST(json.find("\"prompts_distinct_ri\":") != std::string::npos);
    BOOST_TEST(json.find("\"num_response_vectors\":39") != std::string::npos);
    BOOST_TEST(json.find("\"records_without_response_embedding\":1") != std::string::npos);

    // Too few vectors: null, not a number.
    pm::distinct_ri_metric::state empty = metric.make_state();
    polyglot::io::json_writer w3;
    w3.begin_object();
    metric.finalize(empty, w3);
    w3.end_object();
    BOOST_TEST(w3.str().find("\"prompts_distinct_ri\":null") != std::string::npos);

    // A record with another dimension is a configuration error.
    polyglot::record bad = records[0];
    bad.embedding_dim = d + 1;
    polyglot::instance_values iv;
    BOOST_CHECK_THROW(metric.accumulate(single, bad, iv), polyglot::argument_error);
}
