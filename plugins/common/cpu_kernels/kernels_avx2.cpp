// SPDX-License-Identifier: Apache-2.0
// The AVX2 + FMA + F16C path (8 lanes). Compiled with -mavx2 -mfma -mf16c; only called when
// cpuid says the CPU has them.
#include <immintrin.h>

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
    static constexpr int W = 8;
    static constexpr int mr = 3, nr = 4;
    static constexpr std::ptrdiff_t gemm_block_bytes = 192 << 10;
    using vf = __m256;
    using vi = __m256i;
    static vf zero() { return _mm256_setzero_ps(); }
    static vf set1(float a) { return _mm256_set1_ps(a); }
    static vf load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, vf v) { _mm256_storeu_ps(p, v); }
    static vf load_bf16(const std::uint16_t* p) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    static vf load_f16(const std::uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static vf fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
    static vf add(vf a, vf b) { return _mm256_add_ps(a, b); }
    static vf sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
    static vf mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
    static vf div(vf a, vf b) { return _mm256_div_ps(a, b); }
    static vf min(vf a, vf b) { return _mm256_min_ps(a, b); }
    static vf max(vf a, vf b) { return _mm256_max_ps(a, b); }
    static vi round_int(vf a) { return _mm256_cvtps_epi32(a); }
    static vf to_float(vi a) { return _mm256_cvtepi32_ps(a); }
    static vf pow2(vi n) {
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
    }
    static vf zero_below(vf v, vf x, vf lo) {
        return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), v);
    }
    /// Lanes l with lo <= l < hi keep v, the others get fill (v may hold NaN).
    static vf select_range(vf v, vf fill, std::ptrdiff_t lo, std::ptrdiff_t hi) {
        const int l = int(lo < -1 ? -1 : lo > W ? W : lo), h = int(hi < -1 ? -1 : hi > W ? W : hi);
        const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(l), idx),
                                               _mm256_cmpgt_epi32(_mm256_set1_epi32(h), idx));
        return _mm256_blendv_ps(fill, v, _mm256_castsi256_ps(in));
    }
    static __m128 fold(vf v) {
        return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    }
    static float hsum(vf v) {
        const __m128 q = fold(v);
        const __m128 t = _mm_add_ps(q, _mm_movehl_ps(q, q));
        return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
    }
    static float hmax(vf v) {
        const __m128 q = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        const __m128 t = _mm_max_ps(q, _mm_movehl_ps(q, q));
        return _mm_cvtss_f32(_mm_max_ss(t, _mm_shuffle_ps(t, t, 1)));
    }
    struct dacc {
        __m256d a, b;
    };
    static dacc dzero() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
    static void dadd(dacc& d, vf v) {
        d.a = _mm256_add_pd(d.a, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        d.b = _mm256_add_pd(d.b, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    static void dadd_sq(dacc& d, vf v) {
        const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                      hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        d.a = _mm256_fmadd_pd(lo, lo, d.a);
        d.b = _mm256_fmadd_pd(hi, hi, d.b);
    }
    static double dsum(const dacc& d) {
        const __m256d s = _mm256_add_pd(d.a, d.b);
        const __m128d q = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
        return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
    }
};

#include "common/cpu_kernels/impl.hpp"

}  // namespace

const table& kernels_avx2() noexcept {
    static const table t = ops<simd>::make(isa::avx2);
    return t;
}

}  // namespace cpu_kernels
POLYGLOT_END_NAMESPACE
