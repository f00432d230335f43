// SPDX-License-Identifier: Apache-2.0
// `polyglot distinct-ri FILE.npy`: float32 / float16 (.npy v1, v2, v3), exact half->float
// conversion over all 65536 bit patterns, thread- and window-independence, exact values on a
// file many windows long, and clear errors for bad files.
#define BOOST_TEST_MODULE distinct_ri_cli
#include <bit>
#include <cmath>
#include <cstring>
#include <polyglot/metrics/distinct_ri.hpp>

#include "plugin_test_util.hpp"

using namespace plugin_test;

namespace {

struct parsed {
    std::string distinct_ri;  // the literal as printed (exact comparison)
    double value = 0;
    std::uint64_t n = 0, dim = 0, nonzero = 0;
};

std::string field(const std::string& json, const std::string& key) {
    auto k = json.find("\"" + key + "\":");
    BOOST_TEST_REQUIRE(k != std::string::npos, "no " << key << " in " << json);
    auto b = k + key.size() + 3;
    auto e = json.find_first_of(",}", b);
    return json.substr(b, e - b);
}

parsed run_json(const fs::path& npy, const std::string& extra = {}) {
    auto r = run_cli("distinct-ri " + q(npy) + " --json " + extra);
    BOOST_TEST_REQUIRE(r.rc == 0, r.err);
    parsed p;
    p.distinct_ri = field(r.out, "distinct_ri");
    p.value = std::strtod(p.distinct_ri.c_str(), nullptr);
    p.n = std::stoull(field(r.out, "n"));
    p.dim = std::stoull(field(r.out, "dim"));
    p.nonzero = std::stoull(field(r.out, "nonzero"));
    // Exactly the documented keys.
    BOOST_TEST(r.out.front() == '{');
    BOOST_TEST(std::count(r.out.begin(), r.out.end(), ':') == 4);
    return p;
}

std::string shortest(double d) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, res.ptr);
}

std::vector<float> gaussian_like(std::size_t n, std::uint32_t seed) {
    std::vector<float> v(n);
    std::uint32_t x = seed;
    for (auto& f : v) {
        float s = 0;
        for (int k = 0; k < 4; ++k) {
            x = x * 1664525u + 1013904223u;
            s += static_cast<float>(x >> 8) / 16777216.0f - 0.5f;
        }
        f = s;
    }
    return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(float32_matches_the_accumulator_and_brute_force) {
    temp_dir d;
    const std::size_t n = 300, dim = 48;
    auto data = gaussian_like(n * dim, 1);
    for (std::size_t k = 0; k < dim; ++k) data[7 * dim + k] = 0;  // one zero row
    data[11 * dim + 3] = std::nanf("");                           // one non-finite row
    write_npy(d / "a.npy", "<f4", n, dim, data.data(), data.size() * 4);
    auto p = run_json(d / "a.npy");
    BOOST_TEST_REQUIRE(p.dim == dim);
    polyglot::metrics::distinct_ri_accumulator acc(p.dim);  // runtime dim (g++ 12, see below)
    acc.add_rows(data.data(), n);
    BOOST_TEST(p.distinct_ri == shortest(acc.value()));  // bit-identical
    BOOST_TEST(p.n == n);
    BOOST_TEST(p.dim == dim);
    BOOST_TEST(p.nonzero == n - 2);
    BOOST_TEST(p.value == polyglot::metrics::distinct_ri_brute_force(data.data(), n, dim),
               boost::test_tools::tolerance(1e-9));
    // Header versions 2 and 3 read the same.
    write_npy(d / "v2.npy", "<f4", n, dim, data.data(), data.size() * 4, 2);
    write_npy(d / "v3.npy", "<f4", n, dim, data.data(), data.size() * 4, 3);
    BOOST_TEST(run_json(d / "v2.npy").distinct_ri == p.distinct_ri);
    BOOST_TEST(run_json(d / "v3.npy").distinct_ri == p.distinct_ri);
    // Human-readable output.
    auto r = run_cli("distinct-ri " + q(d / "a.npy"));
    BOOST_TEST(r.rc == 0);
    BOOST_TEST(contains(r.out, "over 300 vectors of dim 48 (float32; nonzero 298, non-finite 1)"),
               r.out);
}

BOOST_AUTO_TEST_CASE(float16_conversion_is_exact_for_every_bit_pattern) {
    // 64 rows x 1024 columns = every half bit pattern once (rows 31 and 63 hold inf/NaN).
    temp_dir d;
    std::vector<std::uint16_t> halves(65536);
    for (std::uint32_t i = 0; i < 65536; ++i) halves[i] = static_cast<std::uint16_t>(i);
    write_npy(d / "h.npy", "<f2", 64, 1024, halves.data(), halves.size() * 2);
    // Oracle: the compiler's own _Float16 -> float conversion.
    std::vector<float> f(65536);
    for (std::uint32_t i = 0; i < 65536; ++i)
        f[i] = static_cast<float>(std::bit_cast<_Float16>(halves[i]));
    auto p = run_json(d / "h.npy");
    BOOST_TEST_REQUIRE(p.dim == 1024u);
    polyglot::metrics::distinct_ri_accumulator acc(p.dim);  // (runtime dim: see below)
    acc.add_rows(f.data(), 64);
    BOOST_TEST(p.distinct_ri == shortest(acc.value()));
    BOOST_TEST(p.nonzero == acc.nonzero);
    BOOST_TEST(acc.nonfinite == 2u);
    // Per value: rows holding one pattern each (0.5 * e_k style rows) pin single conversions.
    // 2048 rows of dim 2: [h, 1.0]; any conversion error moves the cosine sum.
    std::vector<std::uint16_t> pairs;
    std::vector<float> pf;
    for (std::uint32_t i = 0; i < 65536; i += 32) {
        if ((i & 0x7c00u) == 0x7c00u) continue;  // skip inf/NaN
        pairs.push_back(static_cast<std::uint16_t>(i));
        pairs.push_back(0x3c00);  // 1.0
        pf.push_back(f[i]);
        pf.push_back(1.0f);
    }
    write_npy(d / "p.npy", "<f2", pairs.size() / 2, 2, pairs.data(), pairs.size() * 2);
    auto p2 = run_json(d / "p.npy");
    BOOST_TEST_REQUIRE(p2.dim == 2u);
    // The dimension comes from the run, not a constant: with a constant 2, g++ 12 inlines the
    // accumulator's 8-lane loops and emits a false -Waggressive-loop-optimizations warning.
    polyglot::metrics::distinct_ri_accumulator acc2(p2.dim);
    acc2.add_rows(pf.data(), pf.size() / 2);
    BOOST_TEST(p2.distinct_ri == shortest(acc2.value()));
}

BOOST_AUTO_TEST_CASE(threads_and_window_do_not_change_the_result) {
    temp_dir d;
    const std::size_t n = 3000, dim = 384;  // 4.6 MB of float32
    auto data = gaussian_like(n * dim, 9);
    write_npy(d / "a.npy", "<f4", n, dim, data.data(), data.size() * 4);
    auto base = run_json(d / "a.npy", "--threads 1");
    BOOST_TEST(run_json(d / "a.npy", "--threads 2").distinct_ri == base.distinct_ri);
    BOOST_TEST(run_json(d / "a.npy", "--threads 2 --window-mb 1").distinct_ri == base.distinct_ri);
    BOOST_TEST(run_json(d / "a.npy", "--threads 1 --window-mb 1 --drop-cache").distinct_ri ==
               base.distinct_ri);
}

BOOST_AUTO_TEST_CASE(a_file_many_windows_long_gives_the_exact_value) {
    // 24 MB of float16 through a 1 MB window: 24 windows mapped, reduced and dropped in turn give
    // bit for bit the value of one in-memory pass. (That resident memory stays at about one
    // window is measured, not asserted: benchmarks/distinct_ri_window_rss.sh.)
    temp_dir d;
    const std::size_t n = 12 * 1024, dim = 1024;
    // Rows in blocks of 512 from a fixed LCG: halves in (-2, 2), random sign and mantissa,
    // exponents around 1.0; @p use gets each block's bits.
    auto blocks = [&](auto&& use) {
        std::vector<std::uint16_t> chunk(dim * 512);
        std::uint32_t x = 3;
        for (std::size_t done = 0; done < n; done += 512) {
            for (auto& h : chunk) {
                x = x * 1664525u + 1013904223u;
                h = static_cast<std::uint16_t>(((x >> 16) & 0x83ffu) | 0x3800u);
            }
            use(chunk);
        }
    };
    write_npy(d / "big.npy", "<f2", n, dim, nullptr, 0);
    {
        std::ofstream out(d / "big.npy", std::ios::binary | std::ios::app);
        blocks([&](const std::vector<std::uint16_t>& c) {
            out.write(reinterpret_cast<const char*>(c.data()),
                      static_cast<std::streamsize>(c.size() * 2));
        });
    }
    BOOST_TEST_REQUIRE(fs::file_size(d / "big.npy") > n * dim * 2);
    const auto p = run_json(d / "big.npy", "--window-mb 1 --threads 2");
    BOOST_TEST_REQUIRE(p.dim == dim);
    BOOST_TEST(p.n == n);
    polyglot::metrics::distinct_ri_accumulator acc(p.dim);  // (runtime dim: see above)
    std::vector<float> f(dim * 512);
    blocks([&](const std::vector<std::uint16_t>& c) {
        for (std::size_t k = 0; k < c.size(); ++k)
            f[k] = static_cast<float>(std::bit_cast<_Float16>(c[k]));
        acc.add_rows(f.data(), 512);
    });
    BOOST_TEST(p.distinct_ri == shortest(acc.value()));
    BOOST_TEST(run_json(d / "big.npy", "--window-mb 3 --threads 1").distinct_ri == p.distinct_ri);
}

BOOST_AUTO_TEST_CASE(bad_files_give_one_clear_error) {
    temp_dir d;
    float f[6] = {1, 2, 3, 4, 5, 6};
    auto expect = [&](const std::string& name, const std::string& part) {
        auto r = run_cli("distinct-ri " + q(d / name) + " --json");
        BOOST_TEST(r.rc == 1, name << ": rc " << r.rc);
        BOOST_TEST(contains(r.err, (d / name).string()), r.err);
        BOOST_TEST(contains(r.err, part), r.err);
        BOOST_TEST(r.out.empty());
    };
    write_npy(d / "be.npy", ">f4", 2, 3, f, sizeof f);
    expect("be.npy", "dtype '>f4' is not supported");
    write_npy(d / "f8.npy", "<f8", 1, 3, f, sizeof f);
    expect("f8.npy", "dtype '<f8' is not supported");
    write_npy(d / "fortran.npy", "<f4", 2, 3, f, sizeof f, 1, true);
    expect("fortran.npy", "Fortran-order arrays are not supported");
    write_npy(d / "1d.npy", "<f4", 6, 0, f, sizeof f, 1, false, "(6,)");
    expect("1d.npy", "expected a 2-D array");
    write_npy(d / "3d.npy", "<f4", 0, 0, f, sizeof f, 1, false, "(1, 2, 3)");
    expect("3d.npy", "expected a 2-D array");
    write_npy(d / "short.npy", "<f4", 4, 3, f, sizeof f);
    expect("short.npy", "truncated");
    write_text(d / "text.npy", "just text, not numpy");
    expect("text.npy", "not a .npy file");
    write_text(d / "empty.npy", "");
    expect("empty.npy", "empty file");
    write_npy(d / "v9.npy", "<f4", 2, 3, f, sizeof f, 9);
    expect("v9.npy", "unsupported .npy format version 9");
    expect("missing.npy", "cannot open");
    // Zero rows is valid: no pairs, null.
    write_npy(d / "none.npy", "<f4", 0, 3, f, 0);
    auto r = run_cli("distinct-ri " + q(d / "none.npy") + " --json");
    BOOST_TEST(r.rc == 0, r.err);
    BOOST_TEST(r.out == "{\"distinct_ri\":null,\"n\":0,\"dim\":3,\"nonzero\":0}\n");
}
