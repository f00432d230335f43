// SPDX-License-Identifier: Apache-2.0
/// @file The kernels, written once over a vector-traits type S and instantiated by each
/// per-ISA translation unit (kernels_<isa>.cpp) inside an anonymous namespace, so that nothing
/// compiled for one instruction set can be linked into another path. No library templates are
/// instantiated here for the same reason (only intrinsics, libm calls and plain loops).
///
/// S provides: W (lanes), vf, zero/set1/load/store/load_bf16/load_f16, fma(a, b, c) = a·b + c,
/// add/sub/mul/div/min/max (intrinsic semantics: the second operand when either is NaN),
/// round_int/to_float/pow2 for exp, zero_below(v, x, lo) (v where !(x < lo), else 0), hsum and
/// hmax (fixed trees), and dacc (double lanes: dzero/dadd/dadd_sq/dsum).
///
/// Included by kernels_<isa>.cpp after <cmath>, <cstring>, <cstdint>, <cstddef> and
/// kernels.hpp, inside `namespace polyglot::cpu_kernels { namespace {`.

// ---- small helpers (no <algorithm>: see above) -------------------------------------------------

constexpr std::ptrdiff_t imin(std::ptrdiff_t a, std::ptrdiff_t b) { return a < b ? a : b; }

/// Stored 16-bit weights (bit patterns).
struct bf16_t {
    std::uint16_t bits;
    static constexpr bool bf16 = true;
};
struct f16_t {
    std::uint16_t bits;
    static constexpr bool bf16 = false;
};

/// IEEE half to float, exact (the SSE2 path has no F16C).
inline float half_bits_to_float(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        u = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        u = sign;
    } else {  // subnormal: normalise
        int e = 113;
        while (!(man & 0x400u)) man <<= 1, --e;
        u = sign | (std::uint32_t(e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline float bf16_bits_to_float(std::uint16_t b) {
    const std::uint32_t u = std::uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

template <class S>
struct ops {
    using vf = typename S::vf;
    static constexpr int W = S::W;

    /// n < W floats from p, the other lanes @p fill.
    static vf load_n(const float* p, std::ptrdiff_t n, float fill) {
        alignas(64) float buf[W];
        for (int i = 0; i < W; ++i) buf[i] = i < n ? p[i] : fill;
        return S::load(buf);
    }
    static void store_n(float* p, vf v, std::ptrdiff_t n) {
        alignas(64) float buf[W];
        S::store(buf, v);
        for (std::ptrdiff_t i = 0; i < n; ++i) p[i] = buf[i];
    }

    /// exp(x) in f32 (Cephes expf: range reduction by ln 2 in two parts, degree-5 polynomial,
    /// ≤ 2 ulp). exp(x) = 0 below -87.34 (where f32 turns subnormal) and for -inf; NaN stays
    /// NaN; arguments above 88 give exp(88).
    static vf exp(vf x) {
        const vf lo = S::set1(-87.33654475f);
        vf xc = S::max(lo, x);  // NaN stays (second operand)
        xc = S::min(S::set1(88.0f), xc);
        const auto n = S::round_int(S::mul(xc, S::set1(1.44269504088896341f)));
        const vf nf = S::to_float(n);
        vf r = S::fma(nf, S::set1(-0.693359375f), xc);
        r = S::fma(nf, S::set1(2.12194440e-4f), r);
        vf p = S::set1(1.9875691500e-4f);
        p = S::fma(p, r, S::set1(1.3981999507e-3f));
        p = S::fma(p, r, S::set1(8.3334519073e-3f));
        p = S::fma(p, r, S::set1(4.1665795894e-2f));
        p = S::fma(p, r, S::set1(1.6666665459e-1f));
        p = S::fma(p, r, S::set1(5.0000001201e-1f));
        vf y = S::fma(p, S::mul(r, r), r);
        y = S::add(y, S::set1(1.0f));
        return S::zero_below(S::mul(y, S::pow2(n)), x, lo);
    }

    // ---- GEMM -----------------------------------------------------------------------------------

    template <class T>
    static vf load_w(const T* p) {
        if constexpr (sizeof(T) == 4)
            return S::load(p);
        else if constexpr (T::bf16)
            return S::load_bf16(&p->bits);
        else
            return S::load_f16(&p->bits);
    }
    template <class T>
    static float w_to_float(const T& v) {
        if constexpr (sizeof(T) == 4)
            return v;
        else if constexpr (T::bf16)
            return bf16_bits_to_float(v.bits);
        else
            return half_bits_to_float(v.bits);
    }

    /// An MR × NR block of Y over the full K: each element a lane-wise FMA chain over k, the K
    /// tail as one more zero-padded vector step, then hsum (+ bias) (+ Y). @p next (optional):
    /// MR rows of K weights (stride ldw) to prefetch along the way.
    template <class T, int MR, int NR>
    static void micro(const T* w, std::ptrdiff_t ldw, std::ptrdiff_t K, const float* x,
                      std::ptrdiff_t ldx, float* y, std::ptrdiff_t ldy, const float* bias,
                      bool accumulate, const T* next) {
        vf acc[MR][NR];
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) acc[i][j] = S::zero();
        const std::ptrdiff_t kv = K / W * W;
        for (std::ptrdiff_t k = 0; k < kv; k += W) {
            if (next)
                for (int i = 0; i < MR; ++i) __builtin_prefetch(next + i * ldw + k, 0, 2);
            vf wv[MR];
            for (int i = 0; i < MR; ++i) wv[i] = load_w(w + i * ldw + k);
            for (int j = 0; j < NR; ++j) {
                const vf xv = S::load(x + j * ldx + k);
                for (int i = 0; i < MR; ++i) acc[i][j] = S::fma(wv[i], xv, acc[i][j]);
            }
        }
        if (kv < K) {
            const std::ptrdiff_t nt = K - kv;
            vf wv[MR];
            for (int i = 0; i < MR; ++i) {
                alignas(64) float buf[W];
                for (int l = 0; l < W; ++l)
                    buf[l] = l < nt ? w_to_float(w[i * ldw + kv + l]) : 0.0f;
                wv[i] = S::load(buf);
            }
            for (int j = 0; j < NR; ++j) {
                const vf xv = load_n(x + j * ldx + kv, nt, 0.0f);
                for (int i = 0; i < MR; ++i) acc[i][j] = S::fma(wv[i], xv, acc[i][j]);
            }
        }
        for (int j = 0; j < NR; ++j)
            for (int i = 0; i < MR; ++i) {
                float s = S::hsum(acc[i][j]);
                if (bias) s = s + bias[i];
                float* o = y + j * ldy + i;
                *o = accumulate ? *o + s : s;
            }
    }

    template <class T>
    using micro_fn = void (*)(const T*, std::ptrdiff_t, std::ptrdiff_t, const float*,
                              std::ptrdiff_t, float*, std::ptrdiff_t, const float*, bool, const T*);

    template <class T, int MR, int... NRs>
    static void fill_row(micro_fn<T>* row, std::integer_sequence<int, NRs...>) {
        ((row[NRs + 1] = &micro<T, MR, NRs + 1>), ...);
    }
    template <class T, int... MRs>
    static void fill(micro_fn<T> (*tab)[S::nr + 1], std::integer_sequence<int, MRs...>) {
        (fill_row<T, MRs + 1>(tab[MRs + 1], std::make_integer_sequence<int, S::nr>{}), ...);
    }

    template <class T>
    struct micro_table {
        micro_fn<T> f[S::mr + 1][S::nr + 1] = {};
        micro_table() { fill<T>(f, std::make_integer_sequence<int, S::mr>{}); }
    };

    /// Columns in groups of NR; inside a group, the W block's rows in groups of MR. With a few
    /// column groups (decoding a batch: each weight serves at most 4·NR columns, so the
    /// weights' stream from memory sets the pace), rows outside and columns inside: each
    /// MR-row panel of W serves every column group from L1 while the next panel is prefetched
    /// into L2 (into L1 it would evict the current panel and X), so that the stream overlaps
    /// the FMAs (bm_gemv, 16 columns: -25% time for f32 and bf16 weights). The loop order
    /// changes no value (each element has its fixed sequence).
    template <class T>
    static void gemm_t(const weights_view& w, const float* x, std::ptrdiff_t ldx, std::ptrdiff_t n,
                       float* y, std::ptrdiff_t ldy, const float* bias, bool accumulate) {
        static const micro_table<T> tab;
        const T* wp = static_cast<const T*>(w.data);
        if (n > S::nr && n <= 4 * S::nr) {
            for (std::ptrdiff_t i0 = 0; i0 < w.rows; i0 += S::mr) {
                const std::ptrdiff_t ni = imin(S::mr, w.rows - i0);
                const T* next = i0 + 2 * S::mr <= w.rows ? wp + (i0 + S::mr) * w.ld : nullptr;
                for (std::ptrdiff_t j0 = 0; j0 < n; j0 += S::nr)
                    tab.f[ni][imin(S::nr, n - j0)](wp + i0 * w.ld, w.ld, w.cols, x + j0 * ldx, ldx,
                                                   y + j0 * ldy + i0, ldy,
                                                   bias ? bias + i0 : nullptr, accumulate, next);
            }
            return;
        }
        for (std::ptrdiff_t j0 = 0; j0 < n; j0 += S::nr) {
            const std::ptrdiff_t nj = imin(S::nr, n - j0);
            for (std::ptrdiff_t i0 = 0; i0 < w.rows; i0 += S::mr) {
                const std::ptrdiff_t ni = imin(S::mr, w.rows - i0);
                tab.f[ni][nj](wp + i0 * w.ld, w.ld, w.cols, x + j0 * ldx, ldx, y + j0 * ldy + i0,
                              ldy, bias ? bias + i0 : nullptr, accumulate, nullptr);
            }
        }
    }

    static void gemm(const weights_view& w, const float* x, std::ptrdiff_t ldx, std::ptrdiff_t n,
                     float* y, std::ptrdiff_t ldy, const float* bias, bool accumulate) {
        switch (w.type) {
            case wtype::f32:
                return gemm_t<float>(w, x, ldx, n, y, ldy, bias, accumulate);
            case wtype::bf16:
                return gemm_t<bf16_t>(w, x, ldx, n, y, ldy, bias, accumulate);
            case wtype::f16:
                return gemm_t<f16_t>(w, x, ldx, n, y, ldy, bias, accumulate);
        }
    }

    static std::ptrdiff_t gemm_row_block(std::ptrdiff_t k, wtype t) {
        const std::ptrdiff_t bytes = k * (t == wtype::f32 ? 4 : 2);
        std::ptrdiff_t rows = S::gemm_block_bytes / (bytes > 0 ? bytes : 1) / S::mr * S::mr;
        return rows < S::mr ? S::mr : rows;
    }

    // ---- reductions and elementwise -------------------------------------------------------------

    static float max(const float* x, std::size_t n) {
        vf m = S::set1(-__builtin_inff());
        std::size_t i = 0;
        for (; i + W <= n; i += W) m = S::max(S::load(x + i), m);  // NaN lanes keep m
        if (i < n) m = S::max(load_n(x + i, std::ptrdiff_t(n - i), -__builtin_inff()), m);
        return S::hmax(m);
    }

    static double sum_exp(const float* x, std::size_t n, float shift) {
        typename S::dacc a = S::dzero();
        const vf sh = S::set1(shift);
        std::size_t i = 0;
        for (; i + W <= n; i += W) S::dadd(a, exp(S::sub(S::load(x + i), sh)));
        if (i < n)
            S::dadd(a, exp(S::sub(load_n(x + i, std::ptrdiff_t(n - i), -__builtin_inff()), sh)));
        return S::dsum(a);
    }

    static float dot(const float* a, const float* b, std::ptrdiff_t n) {
        vf acc = S::zero();
        std::ptrdiff_t i = 0;
        for (; i + W <= n; i += W) acc = S::fma(S::load(a + i), S::load(b + i), acc);
        if (i < n) acc = S::fma(load_n(a + i, n - i, 0.0f), load_n(b + i, n - i, 0.0f), acc);
        return S::hsum(acc);
    }

    static void axpy(float a, const float* x, float* y, std::ptrdiff_t n) {
        const vf av = S::set1(a);
        std::ptrdiff_t i = 0;
        for (; i + W <= n; i += W) S::store(y + i, S::fma(av, S::load(x + i), S::load(y + i)));
        if (i < n)
            store_n(y + i, S::fma(av, load_n(x + i, n - i, 0.0f), load_n(y + i, n - i, 0.0f)),
                    n - i);
    }

    static void scale(float a, float* y, std::ptrdiff_t n) {
        const vf av = S::set1(a);
        std::ptrdiff_t i = 0;
        for (; i + W <= n; i += W) S::store(y + i, S::mul(S::load(y + i), av));
        if (i < n) store_n(y + i, S::mul(load_n(y + i, n - i, 0.0f), av), n - i);
    }

    static void add(const float* x, float* y, std::ptrdiff_t n) {
        std::ptrdiff_t i = 0;
        for (; i + W <= n; i += W) S::store(y + i, S::add(S::load(y + i), S::load(x + i)));
        if (i < n)
            store_n(y + i, S::add(load_n(y + i, n - i, 0.0f), load_n(x + i, n - i, 0.0f)), n - i);
    }

    static void rms_norm(const float* x, const float* w, std::ptrdiff_t n, float eps, float* out) {
        typename S::dacc a = S::dzero();
        std::ptrdiff_t i = 0;
        for (; i + W <= n; i += W) S::dadd_sq(a, S::load(x + i));
        if (i < n) S::dadd_sq(a, load_n(x + i, n - i, 0.0f));
        const float var = float(S::dsum(a) / double(n));
        const vf r = S::set1(1.0f / std::sqrt(var + eps));
        for (i = 0; i + W <= n; i += W)
            S::store(out + i, S::mul(S::mul(S::load(x + i), r), S::load(w + i)));
        if (i < n)
            store_n(out + i,
                    S::mul(S::mul(load_n(x + i, n - i, 0.0f), r), load_n(w + i, n - i, 0.0f)),
                    n - i);
    }

    static vf silu(vf g) {
        const vf one = S::set1(1.0f);
        return S::div(g, S::add(one, exp(S::sub(S::zero(), g))));
    }
    /// 0.5 g (1 + tanh(√(2/π) (g + 0.044715 g³))), tanh(u) = 1 - 2 / (exp(2u) + 1).
    static vf gelu_tanh(vf g) {
        const vf one = S::set1(1.0f);
        const vf u = S::mul(S::set1(0.7978845608028654f),
                            S::add(g, S::mul(S::set1(0.044715f), S::mul(S::mul(g, g), g))));
        const vf t = S::sub(one, S::div(S::set1(2.0f), S::add(exp(S::add(u, u)), one)));
        return S::mul(S::mul(S::set1(0.5f), g), S::add(one, t));
    }
    template <glu A>
    static vf act(vf g) {
        if constexpr (A == glu::silu)
            return silu(g);
        else if constexpr (A == glu::gelu_tanh)
            return gelu_tanh(g);
        else {  // erf has no vector form here: per lane with libm
            alignas(64) float b[W];
            S::store(b, g);
            for (int l = 0; l < W; ++l)
                b[l] = 0.5f * b[l] * (1.0f + std::erf(b[l] * 0.7071067811865476f));
            return S::load(b);
        }
    }
    template <glu A>
    static void glu_t(const float* g, const float* u, float* out, std::ptrdiff_t n) {
        std::ptrdiff_t i = 0;
        for (; i + W <= n; i += W)
            S::store(out + i, S::mul(act<A>(S::load(g + i)), S::load(u + i)));
        if (i < n)
            store_n(out + i, S::mul(act<A>(load_n(g + i, n - i, 0.0f)), load_n(u + i, n - i, 0.0f)),
                    n - i);
    }
    static void glu_any(glu a, const float* g, const float* u, float* out, std::ptrdiff_t n) {
        switch (a) {
            case glu::silu:
                return glu_t<glu::silu>(g, u, out, n);
            case glu::gelu_tanh:
                return glu_t<glu::gelu_tanh>(g, u, out, n);
            case glu::gelu_erf:
                return glu_t<glu::gelu_erf>(g, u, out, n);
        }
    }

    // ---- attention ------------------------------------------------------------------------------

    static constexpr int BV = int(attn_block) / W;  // vectors per block of positions

    /// tanh(u) = 1 - 2 / (exp(2u) + 1) (absolute error ~1e-7).
    static vf tanh(vf u) {
        const vf one = S::set1(1.0f);
        return S::sub(one, S::div(S::set1(2.0f), S::add(exp(S::add(u, u)), one)));
    }

    /// Queries j0 .. j0 + G - 1 together (they share the loads of K and V); positions outside
    /// a query's range get probability 0, which adds exact zeros: each query's values are
    /// those it would get alone.
    template <int G>
    static void attend_group(const attention_args& a, std::ptrdiff_t j0) {
        std::ptrdiff_t lo = a.key_begin[j0], hi = a.key_end[j0];
        for (int g = 1; g < G; ++g) {
            lo = imin(lo, a.key_begin[j0 + g]);
            hi = a.key_end[j0 + g] > hi ? a.key_end[j0 + g] : hi;
        }
        const std::ptrdiff_t b0 = lo / attn_block, b1 = (hi + attn_block - 1) / attn_block;
        const std::ptrdiff_t ns = (b1 - b0) * attn_block;  // scores per query
        float* sc = a.scratch;
        const float* q[G];
        for (int g = 0; g < G; ++g) q[g] = a.q + (j0 + g) * a.ldq;
        const vf scale = S::set1(a.scale), ninf = S::set1(-__builtin_inff());
        // 1. Scores, block by block: s[g][t] = Σ_e q_g[e] · K^T[e][t].
        for (std::ptrdiff_t b = b0; b < b1; ++b) {
            const float* kt = a.k_blocks[b];
            vf acc[G][BV];
            for (int g = 0; g < G; ++g)
                for (int v = 0; v < BV; ++v) acc[g][v] = S::zero();
            for (std::ptrdiff_t e = 0; e < a.hd; ++e) {
                vf k[BV];
                for (int v = 0; v < BV; ++v) k[v] = S::load(kt + e * attn_block + v * W);
                for (int g = 0; g < G; ++g) {
                    const vf qe = S::set1(q[g][e]);
                    for (int v = 0; v < BV; ++v) acc[g][v] = S::fma(qe, k[v], acc[g][v]);
                }
            }
            for (int g = 0; g < G; ++g) {
                const std::ptrdiff_t kb = a.key_begin[j0 + g], ke = a.key_end[j0 + g];
                for (int v = 0; v < BV; ++v) {
                    vf s = S::mul(acc[g][v], scale);
                    if (a.softcap > 0)
                        s = S::mul(tanh(S::div(s, S::set1(a.softcap))), S::set1(a.softcap));
                    const std::ptrdiff_t p0 = b * attn_block + v * W;  // position of lane 0
                    s = S::select_range(s, ninf, kb - p0, ke - p0);
                    S::store(sc + g * ns + (b - b0) * attn_block + v * W, s);
                }
            }
        }
        // 2. Softmax per query: max, exp(s - max) in place, 1 / Σ in double.
        float inv[G];
        for (int g = 0; g < G; ++g) {
            float* s = sc + g * ns;
            vf m = ninf;
            for (std::ptrdiff_t i = 0; i < ns; i += W) m = S::max(S::load(s + i), m);
            const vf mx = S::set1(S::hmax(m));
            typename S::dacc d = S::dzero();
            for (std::ptrdiff_t i = 0; i < ns; i += W) {
                const vf e = exp(S::sub(S::load(s + i), mx));
                S::store(s + i, e);
                S::dadd(d, e);
            }
            inv[g] = float(1.0 / S::dsum(d));
        }
        // 3. out_g = Σ_t (p_g[t] · inv_g) · V[t], positions in order, 4 vectors of hd at a time.
        for (std::ptrdiff_t e0 = 0; e0 < a.hd; e0 += 4 * W) {
            const std::ptrdiff_t ne = imin(4 * W, a.hd - e0);
            const int nv = int((ne + W - 1) / W);
            vf acc[G][4];
            for (int g = 0; g < G; ++g)
                for (int v = 0; v < 4; ++v) acc[g][v] = S::zero();
            for (std::ptrdiff_t t = lo; t < hi; ++t) {
                const float* vr = a.v_blocks[t / attn_block] + (t % attn_block) * a.hd + e0;
                vf vv[4];
                for (int v = 0; v < nv; ++v)
                    vv[v] = (v + 1) * W <= ne ? S::load(vr + v * W)
                                              : load_n(vr + v * W, ne - v * W, 0.0f);
                for (int g = 0; g < G; ++g) {
                    const vf pw = S::set1(sc[g * ns + (t - b0 * attn_block)] * inv[g]);
                    for (int v = 0; v < nv; ++v) acc[g][v] = S::fma(pw, vv[v], acc[g][v]);
                }
            }
            for (int g = 0; g < G; ++g) {
                float* o = a.out + (j0 + g) * a.ldo + e0;
                for (int v = 0; v < nv; ++v) {
                    if ((v + 1) * W <= ne)
                        S::store(o + v * W, acc[g][v]);
                    else
                        store_n(o + v * W, acc[g][v], ne - v * W);
                }
            }
        }
    }

    static void attention(const attention_args& a) {
        std::ptrdiff_t j = 0;
        for (; j + 4 <= a.nq; j += 4) attend_group<4>(a, j);
        for (; j < a.nq; ++j) attend_group<1>(a, j);
    }

    static void widen(const void* x, wtype t, float* out, std::ptrdiff_t n) {
        const auto* h = static_cast<const std::uint16_t*>(x);
        switch (t) {
            case wtype::f32:
                std::memcpy(out, x, std::size_t(n) * sizeof(float));
                return;
            case wtype::bf16:
                for (std::ptrdiff_t i = 0; i < n; ++i) out[i] = bf16_bits_to_float(h[i]);
                return;
            case wtype::f16:
                for (std::ptrdiff_t i = 0; i < n; ++i) out[i] = half_bits_to_float(h[i]);
                return;
        }
    }

    static constexpr table make(isa level) {
        return table{level, &gemm,     &max,     &sum_exp, &dot,       &axpy,          &scale,
                     &add,  &rms_norm, &glu_any, &widen,   &attention, &gemm_row_block};
    }
};
