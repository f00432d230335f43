// SPDX-License-Identifier: Apache-2.0
// The x86-64 baseline path (SSE2: 4 lanes, no FMA: a·b + c rounds twice).
#include <emmintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "common/cpu_kernels/kernels.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cpu_kernels {
namespace {

struct simd {
    static constexpr int W = 4;
    static constexpr int mr = 2, nr = 4;
    static constexpr std::ptrdiff_t gemm_block_bytes = 192 << 10;
    using vf = __m128;
    using vi = __m128i;
    static vf zero() { return _mm_setzero_ps(); }
    static vf set1(float a) { return _mm_set1_ps(a); }
    static vf load(const float* p) { return _mm_loadu_ps(p); }
    static void store(float* p, vf v) { _mm_storeu_ps(p, v); }
    static vf load_bf16(const std::uint16_t* p) {
        const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
        return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), h));
    }
    static vf load_f16(const std::uint16_t* p);
    static vf fma(vf a, vf b, vf c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
    static vf add(vf a, vf b) { return _mm_add_ps(a, b); }
    static vf sub(vf a, vf b) { return _mm_sub_ps(a, b); }
    static vf mul(vf a, vf b) { return _mm_mul_ps(a, b); }
    static vf div(vf a, vf b) { return _mm_div_ps(a, b); }
    static vf min(vf a, vf b) { return _mm_min_ps(a, b); }
    static vf max(vf a, vf b) { return _mm_max_ps(a, b); }
    static vi round_int(vf a) { return _mm_cvtps_epi32(a); }
    static vf to_float(vi a) { return _mm_cvtepi32_ps(a); }
    static vf pow2(vi n) {
        return _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(n, _mm_set1_epi32(127)), 23));
    }
    static vf zero_below(vf v, vf x, vf lo) { return _mm_andnot_ps(_mm_cmplt_ps(x, lo), v); }
    /// Lanes l with lo <= l < hi keep v, the others get fill (v may hold NaN).
    static vf select_range(vf v, vf fill, std::ptrdiff_t lo, std::ptrdiff_t hi) {
        const int l = int(lo < -1 ? -1 : lo > W ? W : lo), h = int(hi < -1 ? -1 : hi > W ? W : hi);
        const __m128i idx = _mm_setr_epi32(0, 1, 2, 3);
        const __m128i in = _mm_and_si128(_mm_cmpgt_epi32(idx, _mm_set1_epi32(l - 1)),
                                         _mm_cmplt_epi32(idx, _mm_set1_epi32(h)));
        const __m128 m = _mm_castsi128_ps(in);
        return _mm_or_ps(_mm_and_ps(m, v), _mm_andnot_ps(m, fill));
    }
    static float hsum(vf v) {
        const vf t = _mm_add_ps(v, _mm_movehl_ps(v, v));
        return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
    }
    static float hmax(vf v) {
        const vf t = _mm_max_ps(v, _mm_movehl_ps(v, v));
        return _mm_cvtss_f32(_mm_max_ss(t, _mm_shuffle_ps(t, t, 1)));
    }
    struct dacc {
        __m128d a, b;
    };
    static dacc dzero() { return {_mm_setzero_pd(), _mm_setzero_pd()}; }
    static void dadd(dacc& d, vf v) {
        d.a = _mm_add_pd(d.a, _mm_cvtps_pd(v));
        d.b = _mm_add_pd(d.b, _mm_cvtps_pd(_mm_movehl_ps(v, v)));
    }
    static void dadd_sq(dacc& d, vf v) {
        const __m128d lo = _mm_cvtps_pd(v), hi = _mm_cvtps_pd(_mm_movehl_ps(v, v));
        d.a = _mm_add_pd(d.a, _mm_mul_pd(lo, lo));
        d.b = _mm_add_pd(d.b, _mm_mul_pd(hi, hi));
    }
    static double dsum(const dacc& d) {
        const __m128d s = _mm_add_pd(d.a, d.b);
        return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
    }
};

#include "common/cpu_kernels/impl.hpp"

simd::vf simd::load_f16(const std::uint16_t* p) {
    return _mm_setr_ps(half_bits_to_float(p[0]), half_bits_to_float(p[1]), half_bits_to_float(p[2]),
                       half_bits_to_float(p[3]));
}

}  // namespace

const table& kernels_sse2() noexcept {
    static const table t = ops<simd>::make(isa::sse2);
    return t;
}

}  // namespace cpu_kernels
POLYGLOT_END_NAMESPACE
