// SPDX-License-Identifier: Apache-2.0
// The AVX-512 path (F/BW/DQ/VL + FMA + F16C, 16 lanes). Compiled with those -m flags; only
// called when cpuid (and the OS's saved state, XGETBV) says the CPU has them.
// GCC 12's _mm512_undefined_pd() (inside _mm512_cvtps_pd, _mm512_extractf64x4_pd) is
// `__m512d __Y = __Y;`, which -Wuninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
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
    static constexpr int W = 16;
    static constexpr int mr = 6, nr = 4;
    static constexpr std::ptrdiff_t gemm_block_bytes = 256 << 10;
    using vf = __m512;
    using vi = __m512i;
    static vf zero() { return _mm512_setzero_ps(); }
    static vf set1(float a) { return _mm512_set1_ps(a); }
    static vf load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, vf v) { _mm512_storeu_ps(p, v); }
    static vf load_bf16(const std::uint16_t* p) {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    static vf load_f16(const std::uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static vf fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
    static vf add(vf a, vf b) { return _mm512_add_ps(a, b); }
    static vf sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
    static vf mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
    static vf div(vf a, vf b) { return _mm512_div_ps(a, b); }
    static vf min(vf a, vf b) { return _mm512_min_ps(a, b); }
    static vf max(vf a, vf b) { return _mm512_max_ps(a, b); }
    static vi round_int(vf a) { return _mm512_cvtps_epi32(a); }
    static vf to_float(vi a) { return _mm512_cvtepi32_ps(a); }
    static vf pow2(vi n) {
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
    }
    static vf zero_below(vf v, vf x, vf lo) {
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), v);
    }
    /// Lanes l with lo <= l < hi keep v, the others get fill (v may hold NaN).
    static vf select_range(vf v, vf fill, std::ptrdiff_t lo, std::ptrdiff_t hi) {
        const int l = int(lo < -1 ? -1 : lo > W ? W : lo), h = int(hi < -1 ? -1 : hi > W ? W : hi);
        const __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __mmask16 in = _mm512_cmpge_epi32_mask(idx, _mm512_set1_epi32(l)) &
                             _mm512_cmplt_epi32_mask(idx, _mm512_set1_epi32(h));
        return _mm512_mask_blend_ps(in, fill, v);
    }
    static __m256 fold(vf v) {
        return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    }
    static float hsum(vf v) {
        const __m256 h = fold(v);
        const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        const __m128 t = _mm_add_ps(q, _mm_movehl_ps(q, q));
        return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
    }
    static float hmax(vf v) {
        const __m256 h = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
        const __m128 q = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        const __m128 t = _mm_max_ps(q, _mm_movehl_ps(q, q));
        return _mm_cvtss_f32(_mm_max_ss(t, _mm_shuffle_ps(t, t, 1)));
    }
    struct dacc {
        __m512d a, b;
    };
    static dacc dzero() { return {_mm512_setzero_pd(), _mm512_setzero_pd()}; }
    static void dadd(dacc& d, vf v) {
        d.a = _mm512_add_pd(d.a, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        d.b = _mm512_add_pd(d.b, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
    }
    static void dadd_sq(dacc& d, vf v) {
        const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                      hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
        d.a = _mm512_fmadd_pd(lo, lo, d.a);
        d.b = _mm512_fmadd_pd(hi, hi, d.b);
    }
    static double dsum(const dacc& d) {
        const __m512d s = _mm512_add_pd(d.a, d.b);
        const __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(s), _mm512_extractf64x4_pd(s, 1));
        const __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
        return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
    }
};

#include "common/cpu_kernels/impl.hpp"

}  // namespace

const table& kernels_avx512() noexcept {
    static const table t = ops<simd>::make(isa::avx512);
    return t;
}

}  // namespace cpu_kernels
POLYGLOT_END_NAMESPACE
