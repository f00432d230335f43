// SPDX-License-Identifier: Apache-2.0
// The cpu kernels (plugins/common/cpu_kernels) on every instruction-set path this CPU runs:
// against numpy/scipy in float64 (tests/data/cpu_kernels/golden.json, written by
// tests/oracles/cpu_kernels_oracle.py from an integer formula both sides evaluate), against
// straightforward double loops on other shapes, and bit-for-bit against themselves under every
// split of the work (the engine's determinism rests on that).
#define BOOST_TEST_MODULE cpu_kernels
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/cpu_kernels/kernels.hpp"
#include "base/json/util.hpp"

namespace ck = polyglot::cpu_kernels;

namespace {

std::vector<ck::isa> paths() {
    std::vector<ck::isa> out;
    for (ck::isa i : ck::all_isas) {
        if (ck::isa_supported(i))
            out.push_back(i);
        else
            BOOST_TEST_MESSAGE("path " << ck::isa_name(i) << " not tested: this CPU lacks it ("
                                       << ck::cpu_features() << ")");
    }
    return out;
}

// The oracle's input formula (tests/oracles/cpu_kernels_oracle.py).
std::uint64_t h(std::uint64_t seed, std::uint64_t i) {
    return (i * 2654435761ull + seed * 40503ull + 12345ull) % (1ull << 32);
}
std::vector<float> act(std::uint64_t seed, std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = float(double(h(seed, i) % 20001) / 10000.0 - 1.0);
    return v;
}
std::vector<float> wgt(std::uint64_t seed, std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = float((double(h(seed, i) % 255) - 127.0) / 64.0);
    return v;
}

std::uint16_t to_bf16_exact(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    BOOST_REQUIRE((u & 0xffffu) == 0);  // the test only stores values bf16 holds exactly
    return std::uint16_t(u >> 16);
}
std::uint16_t to_f16_exact(float f) {
    if (f == 0) return std::signbit(f) ? 0x8000 : 0;
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    const std::uint32_t sign = (u >> 16) & 0x8000u;
    const int e = int((u >> 23) & 0xff) - 127 + 15;
    BOOST_REQUIRE(e > 0 && e < 31 && (u & 0x1fffu) == 0);
    return std::uint16_t(sign | std::uint32_t(e) << 10 | ((u >> 13) & 0x3ffu));
}

/// A weight matrix stored as @p t (values exactly representable in it).
struct stored {
    std::vector<float> f;
    std::vector<std::uint16_t> hbits;
    ck::wtype type;
    std::ptrdiff_t rows, cols;
    stored(const std::vector<float>& v, ck::wtype t, std::ptrdiff_t r, std::ptrdiff_t c)
        : f(v), type(t), rows(r), cols(c) {
        if (t == ck::wtype::bf16)
            for (float x : v) hbits.push_back(to_bf16_exact(x));
        if (t == ck::wtype::f16)
            for (float x : v) hbits.push_back(to_f16_exact(x));
    }
    ck::weights_view view() const {
        return {type == ck::wtype::f32 ? static_cast<const void*>(f.data()) : hbits.data(), type,
                rows, cols, cols};
    }
};

constexpr ck::wtype all_types[] = {ck::wtype::f32, ck::wtype::bf16, ck::wtype::f16};
const char* type_name(ck::wtype t) {
    return t == ck::wtype::f32 ? "f32" : t == ck::wtype::bf16 ? "bf16" : "f16";
}

polyglot::model::json_document& golden() {
    static polyglot::model::json_document doc(
        std::filesystem::path("tests/data/cpu_kernels/golden.json"));
    return doc;
}

std::vector<double> doubles(simdjson::dom::element e) {
    std::vector<double> out;
    for (auto x : simdjson::dom::array(e.get_array()))
        out.push_back(polyglot::model::as_number(x).value());
    return out;
}
std::int64_t num(simdjson::dom::element e, const char* k) {
    return std::int64_t(polyglot::model::as_number(e[k]).value());
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(path_selection) {
    BOOST_TEST(ck::isa_supported(ck::isa::sse2));
    BOOST_TEST(ck::isa_supported(ck::best_isa()));
    BOOST_TEST(ck::isa_supported(ck::kernels().level));
    for (ck::isa i : paths()) {
        ck::force_isa(i);
        BOOST_TEST((ck::kernels().level == i));
        BOOST_TEST((ck::kernels_for(i).level == i));
    }
    for (ck::isa i : ck::all_isas)
        if (!ck::isa_supported(i)) BOOST_CHECK_THROW(ck::force_isa(i), polyglot::argument_error);
    BOOST_TEST_MESSAGE("best path " << ck::isa_name(ck::best_isa()) << "; CPU "
                                    << ck::cpu_features());
}

BOOST_AUTO_TEST_CASE(gemm_matches_numpy) {
    for (auto c : simdjson::dom::array(golden().root()["gemm"].get_array())) {
        const auto rows = num(c, "rows"), k = num(c, "k"), n = num(c, "n"), seed = num(c, "seed");
        const auto w = wgt(std::uint64_t(seed), std::size_t(rows * k));
        const auto x = act(std::uint64_t(seed + 100), std::size_t(n * k));
        const auto b = act(std::uint64_t(seed + 200), std::size_t(rows));
        const auto want = doubles(c["y"]);
        for (ck::isa p : paths())
            for (ck::wtype t : all_types) {
                stored s(w, t, rows, k);
                std::vector<float> y(std::size_t(rows * n));
                ck::kernels_for(p).gemm(s.view(), x.data(), k, n, y.data(), rows, b.data(), false);
                for (std::ptrdiff_t j = 0; j < n; ++j)
                    for (std::ptrdiff_t i = 0; i < rows; ++i) {
                        double mag = 0;
                        for (std::ptrdiff_t q = 0; q < k; ++q)
                            mag += std::abs(double(w[i * k + q]) * x[j * k + q]);
                        const double got = y[j * rows + i], ref = want[j * rows + i];
                        BOOST_TEST_CONTEXT(ck::isa_name(p)
                                           << " " << type_name(t) << " " << rows << "x" << k << "x"
                                           << n << " (" << i << ", " << j << ")") {
                            BOOST_TEST(std::abs(got - ref) <= 1e-5 * (mag + 1));
                        }
                    }
            }
    }
}

// Shapes around every tail (rows vs MR, k vs lanes, n vs NR, n vs the decode loop order
// for up to 4 NR columns) against double loops.
BOOST_AUTO_TEST_CASE(gemm_matches_reference_loops) {
    for (ck::isa p : paths())
        for (ck::wtype t : all_types)
            for (std::ptrdiff_t rows : {1, 3, 4, 5, 8, 17})
                for (std::ptrdiff_t k : {1, 4, 15, 16, 17, 33, 64})
                    for (std::ptrdiff_t n : {1, 2, 5, 6, 7, 13, 16, 17}) {
                        const auto seed = std::uint64_t(rows * 1000 + k * 10 + n);
                        const auto w = wgt(seed, std::size_t(rows * k));
                        const auto x = act(seed + 1, std::size_t(n * (k + 3)));
                        stored s(w, t, rows, k);
                        // ldx = k + 3, ldy = rows + 2: strides are honoured.
                        std::vector<float> y(std::size_t((rows + 2) * n), -7.0f);
                        ck::kernels_for(p).gemm(s.view(), x.data(), k + 3, n, y.data(), rows + 2,
                                                nullptr, false);
                        for (std::ptrdiff_t j = 0; j < n; ++j) {
                            for (std::ptrdiff_t i = 0; i < rows; ++i) {
                                double ref = 0, mag = 0;
                                for (std::ptrdiff_t q = 0; q < k; ++q) {
                                    ref += double(w[i * k + q]) * x[j * (k + 3) + q];
                                    mag += std::abs(double(w[i * k + q]) * x[j * (k + 3) + q]);
                                }
                                BOOST_TEST_CONTEXT(ck::isa_name(p)
                                                   << " " << type_name(t) << " " << rows << "x" << k
                                                   << "x" << n) {
                                    BOOST_TEST(std::abs(y[j * (rows + 2) + i] - ref) <=
                                               1e-5 * (mag + 1e-30));
                                }
                            }
                            BOOST_TEST(y[j * (rows + 2) + rows] == -7.0f);  // padding untouched
                            BOOST_TEST(y[j * (rows + 2) + rows + 1] == -7.0f);
                        }
                    }
}

// A column's values do not depend on the other columns of the call, on the call's row
// block, or on where in the matrix it sits; accumulate adds the stored value to Y.
BOOST_AUTO_TEST_CASE(gemm_is_independent_of_the_split) {
    const std::ptrdiff_t rows = 37, k = 300, n = 29;
    const auto w = wgt(11, std::size_t(rows * k));
    const auto x = act(12, std::size_t(n * k));
    const auto b = act(13, std::size_t(rows));
    for (ck::isa p : paths())
        for (ck::wtype t : all_types) {
            BOOST_TEST_CONTEXT(ck::isa_name(p) << " " << type_name(t)) {
                const auto& K = ck::kernels_for(p);
                stored s(w, t, rows, k);
                std::vector<float> all(std::size_t(rows * n)), one(all.size()), blocks(all.size());
                K.gemm(s.view(), x.data(), k, n, all.data(), rows, b.data(), false);
                for (std::ptrdiff_t j = 0; j < n; ++j)
                    K.gemm(s.view(), x.data() + j * k, k, 1, one.data() + j * rows, rows, b.data(),
                           false);
                BOOST_TEST(same_bits(all, one));
                // Uneven row blocks × uneven column blocks.
                for (std::ptrdiff_t r0 = 0; r0 < rows; r0 += 7)
                    for (std::ptrdiff_t c0 = 0; c0 < n; c0 += 5) {
                        const auto nr = std::min<std::ptrdiff_t>(7, rows - r0);
                        const auto nc = std::min<std::ptrdiff_t>(5, n - c0);
                        K.gemm(s.view().slice(r0, nr), x.data() + c0 * k, k, nc,
                               blocks.data() + c0 * rows + r0, rows, b.data() + r0, false);
                    }
                BOOST_TEST(same_bits(all, blocks));
                // Accumulate: Y + (Σ + b), in that order.
                std::vector<float> acc(all.size());
                for (std::size_t i = 0; i < acc.size(); ++i) acc[i] = float(i % 17) * 0.25f - 2;
                std::vector<float> want(acc.size());
                for (std::size_t i = 0; i < acc.size(); ++i) want[i] = acc[i] + all[i];
                K.gemm(s.view(), x.data(), k, n, acc.data(), rows, b.data(), true);
                BOOST_TEST(same_bits(acc, want));
            }
        }
}

BOOST_AUTO_TEST_CASE(log_softmax_matches_scipy) {
    for (auto c : simdjson::dom::array(golden().root()["log_softmax"].get_array())) {
        const auto n = num(c, "n"), seed = num(c, "seed"), masked = num(c, "masked");
        auto l = act(std::uint64_t(seed), std::size_t(n));
        for (auto& v : l) v *= 8.0f;
        for (std::int64_t i = 0; i < masked; ++i) l[std::size_t(i)] = -INFINITY;
        const auto want = doubles(c["logprob"]);
        std::vector<std::int64_t> targets;
        for (auto t : simdjson::dom::array(c["targets"].get_array()))
            targets.push_back(std::int64_t(t.get_int64()));
        for (ck::isa p : paths()) {
            ck::force_isa(p);
            for (std::size_t q = 0; q < targets.size(); ++q)
                BOOST_TEST_CONTEXT(ck::isa_name(p) << " n " << n << " target " << targets[q]) {
                    const float got =
                        ck::log_softmax_at(l.data(), std::size_t(n), std::size_t(targets[q]));
                    BOOST_TEST(std::abs(got - want[q]) <= 2e-6);
                }
        }
    }
}

// Against the previous formula (std::exp and the sum in double, index order) on vectors of
// every tail length, and the special values: NaN anywhere gives NaN; +inf gives NaN.
BOOST_AUTO_TEST_CASE(log_softmax_matches_reference_loop) {
    for (ck::isa p : paths()) {
        ck::force_isa(p);
        for (std::size_t n : {1, 2, 7, 15, 16, 17, 100, 1001}) {
            auto l = act(n, n);
            for (auto& v : l) v *= 20.0f;
            float mx = -INFINITY;
            for (float v : l) mx = std::max(mx, v);
            double sum = 0;
            for (float v : l) sum += std::exp(double(v) - double(mx));
            for (std::size_t t : {std::size_t(0), n / 2, n - 1}) {
                const double ref = double(l[t]) - double(mx) - std::log(sum);
                BOOST_TEST_CONTEXT(ck::isa_name(p) << " n " << n << " target " << t) {
                    BOOST_TEST(std::abs(ck::log_softmax_at(l.data(), n, t) - ref) <= 2e-6);
                }
            }
            auto bad = l;
            bad[n / 3] = NAN;
            BOOST_TEST(std::isnan(ck::log_softmax_at(bad.data(), n, n - 1)));
            bad[n / 3] = INFINITY;
            BOOST_TEST(std::isnan(ck::log_softmax_at(bad.data(), n, n - 1)));
        }
        const float one[] = {3.5f};
        BOOST_TEST(ck::log_softmax_at(one, 1, 0) == 0.0f);
    }
}

BOOST_AUTO_TEST_CASE(exp_matches_numpy) {
    simdjson::dom::element e = golden().root()["exp"];
    const auto xs = doubles(e["x"]), ys = doubles(e["y"]);
    for (ck::isa p : paths())
        for (std::size_t i = 0; i < xs.size(); ++i) {
            const float x = float(xs[i]);
            const double got = ck::kernels_for(p).sum_exp(&x, 1, 0.0f);
            BOOST_TEST_CONTEXT(ck::isa_name(p) << " exp(" << x << ")") {
                if (x < -87.34f)
                    BOOST_TEST(got == 0.0);  // flushed where f32 turns subnormal
                else
                    BOOST_TEST(std::abs(got - ys[i]) <= 2.5e-7 * ys[i]);  // ≤ 2 ulp
            }
        }
}

BOOST_AUTO_TEST_CASE(rms_norm_and_glu_match_numpy) {
    simdjson::dom::element r = golden().root()["rms_norm"];
    const auto n = num(r, "n");
    const auto x = act(std::uint64_t(num(r, "seed_x")), std::size_t(n));
    const auto w = act(std::uint64_t(num(r, "seed_w")), std::size_t(n));
    const auto want = doubles(r["y"]);
    simdjson::dom::element g = golden().root()["glu"];
    const auto gn = num(g, "n");
    auto gate = act(std::uint64_t(num(g, "seed_g")), std::size_t(gn));
    for (auto& v : gate) v *= float(num(g, "scale_g"));
    const auto up = act(std::uint64_t(num(g, "seed_u")), std::size_t(gn));
    for (ck::isa p : paths()) {
        const auto& K = ck::kernels_for(p);
        std::vector<float> out(static_cast<std::size_t>(n));
        K.rms_norm(x.data(), w.data(), n, float(polyglot::model::as_number(r["eps"]).value()),
                   out.data());
        for (std::size_t i = 0; i < out.size(); ++i)
            BOOST_TEST(std::abs(out[i] - want[i]) <= 1e-6 * (1 + std::abs(want[i])),
                       ck::isa_name(p) << " rms_norm " << i);
        for (auto [a, key] :
             {std::pair{ck::glu::silu, "silu"}, std::pair{ck::glu::gelu_tanh, "gelu_tanh"},
              std::pair{ck::glu::gelu_erf, "gelu_erf"}}) {
            const auto gw = doubles(g[key]);
            std::vector<float> o(static_cast<std::size_t>(gn));
            K.glu(a, gate.data(), up.data(), o.data(), gn);
            for (std::size_t i = 0; i < o.size(); ++i)
                BOOST_TEST(std::abs(o[i] - gw[i]) <= 1e-6 * (1 + std::abs(gw[i])),
                           ck::isa_name(p) << " " << key << " " << i << " g=" << gate[i]);
        }
    }
}

BOOST_AUTO_TEST_CASE(vector_helpers_match_reference_loops) {
    for (ck::isa p : paths()) {
        const auto& K = ck::kernels_for(p);
        for (std::ptrdiff_t n : {1, 3, 16, 31, 64, 67}) {
            const auto a = act(std::uint64_t(n), std::size_t(n)),
                       b = act(std::uint64_t(n + 1), std::size_t(n));
            double ref = 0, mag = 0;
            for (std::ptrdiff_t i = 0; i < n; ++i)
                ref += double(a[i]) * b[i], mag += std::abs(double(a[i]) * b[i]);
            BOOST_TEST(std::abs(K.dot(a.data(), b.data(), n) - ref) <= 1e-6 * mag);
            std::vector<float> y = b;
            K.axpy(0.75f, a.data(), y.data(), n);
            for (std::ptrdiff_t i = 0; i < n; ++i)
                BOOST_TEST(std::abs(y[i] - (b[i] + 0.75 * a[i])) <= 1e-7 * (1 + std::abs(b[i])));
            y = b;
            K.scale(0.5f, y.data(), n);
            for (std::ptrdiff_t i = 0; i < n; ++i) BOOST_TEST(y[i] == b[i] * 0.5f);
            y = b;
            K.add(a.data(), y.data(), n);
            for (std::ptrdiff_t i = 0; i < n; ++i) BOOST_TEST(y[i] == b[i] + a[i]);
            float mx = -INFINITY;
            for (float v : a) mx = std::max(mx, v);
            BOOST_TEST(K.max(a.data(), std::size_t(n)) == mx);
            // widen: bf16 / f16 bit patterns of weight values.
            const auto wv = wgt(std::uint64_t(n), std::size_t(n));
            for (ck::wtype t : {ck::wtype::bf16, ck::wtype::f16}) {
                stored s(wv, t, 1, n);
                std::vector<float> o(static_cast<std::size_t>(n));
                K.widen(s.hbits.data(), t, o.data(), n);
                BOOST_TEST(same_bits(o, wv));
            }
        }
    }
}
