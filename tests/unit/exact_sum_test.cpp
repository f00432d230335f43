// SPDX-License-Identifier: Apache-2.0
// metrics/exact_sum.hpp against Python's math.fsum (tests/oracles/exact_sum_oracle.py): the
// exact sum rounded once, for any order and any split into merged parts, and saved/loaded.
#define BOOST_TEST_MODULE exact_sum
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <numeric>
#include <polyglot/metrics/exact_sum.hpp>
#include <random>
#include <string>
#include <vector>

namespace pg = polyglot;
using pg::metrics::exact_sum;

namespace {

struct fsum_case {
    std::string name;
    std::vector<double> values;
    double sum = 0;
};

double hex_double(const std::string& quoted) {
    const auto a = quoted.find('"'), b = quoted.rfind('"');
    BOOST_REQUIRE(a != std::string::npos && b > a);
    const std::string s = quoted.substr(a + 1, b - a - 1);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    BOOST_REQUIRE_MESSAGE(*end == '\0', "bad hex double " << s);
    return v;
}

/// The committed fsum goldens (one JSON token per line, as the oracle writes them).
std::vector<fsum_case> load_cases() {
    const std::string path = "tests/data/exact_sum/fsum_cases.json";
    std::ifstream in(path);
    BOOST_REQUIRE_MESSAGE(in, path << " is missing (tests/oracles/exact_sum_oracle.py writes it)");
    std::vector<fsum_case> out;
    std::string line;
    enum { none, values } mode = none;
    while (std::getline(in, line)) {
        if (line.rfind("\"name\":", 0) == 0) {
            out.emplace_back();
            out.back().name = line.substr(8, line.rfind('"') - 9);
        } else if (line.rfind("\"values\":", 0) == 0) {
            mode = values;
        } else if (line.rfind("\"sum\":", 0) == 0) {
            out.back().sum = hex_double(line.substr(6));
            mode = none;
        } else if (line.rfind("]", 0) == 0) {
            mode = none;
        } else if (mode == values && line.find("0x") != std::string::npos) {
            out.back().values.push_back(hex_double(line));
        }
    }
    BOOST_REQUIRE(out.size() >= 10);
    return out;
}

exact_sum sum_of(const std::vector<double>& v, std::size_t from = 0,
                 std::size_t to = std::numeric_limits<std::size_t>::max()) {
    exact_sum s;
    for (std::size_t i = from; i < std::min(to, v.size()); ++i) s.add(v[i]);
    return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(matches_math_fsum) {
    for (const auto& c : load_cases()) {
        BOOST_TEST_CONTEXT(c.name) {
            BOOST_REQUIRE(!c.values.empty());
            BOOST_TEST(sum_of(c.values).value() == c.sum);
        }
    }
}

BOOST_AUTO_TEST_CASE(naive_summation_would_fail_these) {
    // The goldens are not trivial: left-to-right double addition misses some of them.
    int naive_wrong = 0;
    for (const auto& c : load_cases())
        naive_wrong += std::accumulate(c.values.begin(), c.values.end(), 0.0) != c.sum;
    BOOST_TEST(naive_wrong >= 3);
}

BOOST_AUTO_TEST_CASE(any_order_and_any_split_gives_the_same_bits) {
    std::mt19937_64 rng(7);
    for (const auto& c : load_cases()) {
        BOOST_TEST_CONTEXT(c.name) {
            std::vector<double> v = c.values;
            std::shuffle(v.begin(), v.end(), rng);
            BOOST_TEST(sum_of(v).value() == c.sum);
            // Split into 8 parts, merged in reverse order.
            exact_sum total;
            const std::size_t n = v.size();
            for (int k = 7; k >= 0; --k)
                total.merge(sum_of(v, n * static_cast<std::size_t>(k) / 8,
                                   n * static_cast<std::size_t>(k + 1) / 8));
            BOOST_TEST(total.value() == c.sum);
            BOOST_TEST((total == sum_of(c.values)));
        }
    }
}

BOOST_AUTO_TEST_CASE(save_and_load_round_trip) {
    for (const auto& c : load_cases()) {
        const exact_sum s = sum_of(c.values);
        pg::io::binary_writer w;
        s.save(w);
        pg::io::binary_reader r(w.data(), "test");
        exact_sum back;
        back.load(r);
        BOOST_TEST(r.at_end());
        BOOST_TEST((back == s));
        BOOST_TEST(back.value() == c.sum);
    }
}

BOOST_AUTO_TEST_CASE(non_finite_inputs_are_counted_not_summed) {
    exact_sum s;
    s.add(1.5);
    s.add(std::numeric_limits<double>::quiet_NaN());
    s.add(std::numeric_limits<double>::infinity());
    s.add(-std::numeric_limits<double>::infinity());
    s.add(2.25);
    BOOST_TEST(s.value() == 3.75);
    BOOST_TEST(s.nonfinite() == 3u);
}

BOOST_AUTO_TEST_CASE(ten_million_tenths) {
    // 0.1 is m·2^-55 with m = 3602879701896397, so n·0.1 summed exactly is (n·m)·2^-55, and
    // GCC's unsigned __int128 → double conversion rounds it once to nearest.
    constexpr std::uint64_t n = 10'000'000, m = 3602879701896397;
    BOOST_REQUIRE(std::ldexp(static_cast<double>(m), -55) == 0.1);
    exact_sum s;
    for (std::uint64_t i = 0; i < n; ++i) s.add(0.1);
    const double expected =
        std::ldexp(static_cast<double>(static_cast<unsigned __int128>(m) * n), -55);
    BOOST_TEST(s.value() == expected);
    double naive = 0;
    for (std::uint64_t i = 0; i < n; ++i) naive += 0.1;
    BOOST_TEST(naive != expected);  // what a double accumulator would have reported
}

BOOST_AUTO_TEST_CASE(corrupt_bytes_are_refused) {
    pg::io::binary_writer w;
    w.svarint(-5);  // a negative low digit cannot come from save()
    for (int i = 0; i < 66; ++i) w.svarint(0);
    w.varint(0);
    pg::io::binary_reader r(w.data(), "state.bin");
    exact_sum s;
    BOOST_CHECK_EXCEPTION(s.load(r), pg::format_error, [](const pg::format_error& e) {
        return std::string(e.what()).find("state.bin: truncated or corrupt (exact_sum digit") == 0;
    });
    pg::io::binary_reader short_r(std::string_view("\x02\x02", 2), "short");
    BOOST_CHECK_THROW(s.load(short_r), pg::format_error);
}
