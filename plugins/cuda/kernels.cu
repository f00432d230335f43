// SPDX-License-Identifier: Apache-2.0
// The cuda plugin's kernels (launchers declared in kernels.hpp). Numerics mirror the cpu engine
// (plugins/cpu/engine/transformer.cpp): f32 math everywhere, norms and log-sum-exp accumulated
// in double, attention as an online softmax with f32 accumulators. Compiled without fast-math.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cfloat>
#include <cmath>

#include "kernels.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cuda {
namespace {

// ---- element conversions ----------------------------------------------------------------------

template <class T>
__device__ __forceinline__ float to_f(T v);
template <>
__device__ __forceinline__ float to_f<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ float to_f<__half>(__half v) {
    return __half2float(v);
}
template <>
__device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) {
    return __bfloat162float(v);
}

template <class T>
__device__ __forceinline__ T from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ __half from_f<__half>(float v) {
    return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

/// Runs `body` with T bound to the C++ type of @p t.
#define POLYGLOT_CUDA_DISPATCH(t, ...) \
    switch (t) {                       \
        case elem_type::f32: {         \
            using T = float;           \
            __VA_ARGS__;               \
        } break;                       \
        case elem_type::f16: {         \
            using T = __half;          \
            __VA_ARGS__;               \
        } break;                       \
        case elem_type::bf16: {        \
            using T = __nv_bfloat16;   \
            __VA_ARGS__;               \
        } break;                       \
    }

// ---- reductions -----------------------------------------------------------------------------

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/// Sum over the block (blockDim.x a multiple of 32, ≤ 1024); every thread gets the result.
__device__ double block_sum_d(double v) {
    __shared__ double part[32];
    __shared__ double total;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum_d(v);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        double s = lane < int(blockDim.x >> 5) ? part[lane] : 0.0;
        s = warp_sum_d(s);
        if (lane == 0) total = s;
    }
    __syncthreads();
    const double r = total;
    __syncthreads();  // part/total may be reused by the next call
    return r;
}

constexpr int row_threads = 256;

inline unsigned blocks_for(std::size_t n, unsigned threads) {
    return static_cast<unsigned>((n + threads - 1) / threads);
}

// ---- simple element-wise kernels --------------------------------------------------------------

template <class T>
__global__ void convert_kernel(const float* src, T* dst, std::size_t n) {
    const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = from_f<T>(src[i]);
}

template <class T>
__global__ void embed_kernel(const std::int32_t* ids, const T* table, int d, float scale,
                             float* x) {
    const int r = blockIdx.x;
    const T* e = table + std::size_t(ids[r]) * std::size_t(d);
    float* o = x + std::size_t(r) * std::size_t(d);
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = to_f(e[i]) * scale;
}

template <class T>
__global__ void rms_norm_kernel(const float* x, int d, const float* w, float eps, T* out) {
    const std::size_t r = blockIdx.x;
    const float* xr = x + r * std::size_t(d);
    double ss = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) ss += double(xr[i]) * double(xr[i]);
    ss = block_sum_d(ss);
    const float inv = 1.0f / sqrtf(float(ss / double(d)) + eps);
    T* o = out + r * std::size_t(d);
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = from_f<T>((xr[i] * inv) * w[i]);
}

template <class T>
__global__ void add_norm_kernel(float* x, const T* delta, int d, const float* post_w,
                                const float* next_w, float eps, T* out) {
    const std::size_t r = blockIdx.x;
    float* xr = x + r * std::size_t(d);
    const T* dr = delta + r * std::size_t(d);
    float post_inv = 1.0f;
    if (post_w) {
        double ss = 0;
        for (int i = threadIdx.x; i < d; i += blockDim.x) {
            const double v = to_f(dr[i]);
            ss += v * v;
        }
        ss = block_sum_d(ss);
        post_inv = 1.0f / sqrtf(float(ss / double(d)) + eps);
    }
    double ss = 0;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float t = to_f(dr[i]);
        if (post_w) t = (t * post_inv) * post_w[i];
        const float v = xr[i] + t;
        xr[i] = v;
        ss += double(v) * double(v);
    }
    ss = block_sum_d(ss);
    const float inv = 1.0f / sqrtf(float(ss / double(d)) + eps);
    T* o = out + r * std::size_t(d);
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = from_f<T>((xr[i] * inv) * next_w[i]);
}

template <class T>
__global__ void add_bias_kernel(T* y, std::size_t rows, int cols, const float* bias) {
    const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= rows * std::size_t(cols)) return;
    y[i] = from_f<T>(to_f(y[i]) + bias[i % std::size_t(cols)]);
}

__global__ void rope_table_kernel(const float* inv_freq, int max_len, int half, float* cos_tab,
                                  float* sin_tab) {
    const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= std::size_t(max_len) * std::size_t(half)) return;
    const int p = int(i / std::size_t(half)), k = int(i % std::size_t(half));
    const float a = inv_freq[k] * float(p);
    cos_tab[i] = float(cos(double(a)));
    sin_tab[i] = float(sin(double(a)));
}

/// One warp per (row, head) of q and k; the head vector is staged in shared memory.
constexpr int rope_warps = 4;
template <class T>
__global__ void qk_norm_rope_kernel(T* qkv, int rows, int heads, int kv_heads, int hd,
                                    const std::int32_t* pos, const float* cos_tab,
                                    const float* sin_tab, const float* q_norm, const float* k_norm,
                                    float eps) {
    extern __shared__ float rope_smem[];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int nh = heads + kv_heads;
    const long long item = (long long)blockIdx.x * rope_warps + warp;
    if (item >= (long long)rows * nh) return;  // warp-uniform; no block-wide sync below
    const int r = int(item / nh), h = int(item % nh);
    float* buf = rope_smem + warp * hd;
    T* v = qkv + std::size_t(r) * std::size_t((heads + 2 * kv_heads) * hd) + std::size_t(h) * hd;
    for (int i = lane; i < hd; i += 32) buf[i] = to_f(v[i]);
    __syncwarp();
    const float* w = h < heads ? q_norm : k_norm;
    if (w) {
        double ss = 0;
        for (int i = lane; i < hd; i += 32) ss += double(buf[i]) * double(buf[i]);
        ss = warp_sum_d(ss);
        const float inv = 1.0f / sqrtf(float(ss / double(hd)) + eps);
        __syncwarp();
        for (int i = lane; i < hd; i += 32) buf[i] = (buf[i] * inv) * w[i];
        __syncwarp();
    }
    const int half = hd / 2;
    const float* cp = cos_tab + std::size_t(pos[r]) * half;
    const float* sp = sin_tab + std::size_t(pos[r]) * half;
    for (int i = lane; i < half; i += 32) {
        const float a = buf[i], b = buf[i + half];
        v[i] = from_f<T>(a * cp[i] - b * sp[i]);
        v[i + half] = from_f<T>(b * cp[i] + a * sp[i]);
    }
}

// ---- attention --------------------------------------------------------------------------------

/// Where a query tile lies: its sequence's first packed row, its queries [q0, q1) (within the
/// sequence) and the keys they may see (both attention kernels).
struct tile_span {
    int s0, q0, q1;
    plan::key_range keys;
    __device__ tile_span(const std::int32_t* cu, plan::attention_tile t, bool bidirectional,
                         int window)
        : s0(cu[t.seq]), q0(t.q0), q1(min(cu[t.seq + 1] - s0, t.q0 + attention_tile_queries)) {
        keys = plan::keys_for(q0, q1, cu[t.seq + 1] - s0, bidirectional, window);
    }
};

constexpr int attn_warps = 4;                                         // warps per block
constexpr int attn_q_per_warp = attention_tile_queries / attn_warps;  // queries per warp
constexpr int attn_keys = 32;                                         // keys per smem tile (1/lane)
constexpr int attn_chunks = attention_max_head_dim / 32;              // head-dim slices per lane

/// Dynamic shared memory: Q [tile][hd], K [keys][hd + 1] (padded: lane j reads row j without
/// bank conflicts), V [keys][hd]; all f32.
inline std::size_t attention_smem(int hd) {
    return sizeof(float) * (std::size_t(attention_tile_queries) * hd +
                            std::size_t(attn_keys) * (hd + 1) + std::size_t(attn_keys) * hd);
}

/// Block (tile, head): queries [q0, q0 + 16) of one sequence, one head; warp w owns 4 queries.
/// Key tiles of 32 go through shared memory; lane j computes the score of key j for a query,
/// the warp does the online-softmax update, and each lane accumulates its head-dim slices of
/// the output in f32 registers.
template <class T>
__global__ void __launch_bounds__(attn_warps * 32)
    attention_kernel(const T* __restrict__ qkv, T* __restrict__ out,
                     const std::int32_t* __restrict__ cu, const plan::attention_tile* tiles,
                     int heads, int kv_heads, int hd, float scale, float softcap, int window,
                     bool bidirectional) {
    extern __shared__ float attn_smem[];
    float* Qs = attn_smem;
    float* Ks = Qs + attention_tile_queries * hd;
    float* Vs = Ks + attn_keys * (hd + 1);

    const plan::attention_tile tile = tiles[blockIdx.x];
    const int h = blockIdx.y;
    const int g = h / (heads / kv_heads);
    const tile_span sp(cu, tile, bidirectional, window);
    const int s0 = sp.s0, q0 = sp.q0, q1 = sp.q1;
    const plan::key_range kr = sp.keys;
    const std::size_t ld = std::size_t(heads + 2 * kv_heads) * hd;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

    for (int idx = tid; idx < attention_tile_queries * hd; idx += blockDim.x) {
        const int r = idx / hd, c = idx % hd, q = q0 + r;
        Qs[idx] = q < q1 ? to_f(qkv[std::size_t(s0 + q) * ld + std::size_t(h) * hd + c]) : 0.0f;
    }

    float o[attn_q_per_warp][attn_chunks];
    float m[attn_q_per_warp], l[attn_q_per_warp];
#pragma unroll
    for (int r = 0; r < attn_q_per_warp; ++r) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < attn_chunks; ++c) o[r][c] = 0.0f;
    }

    for (int kb = kr.lo; kb < kr.hi; kb += attn_keys) {
        __syncthreads();  // the previous tile is consumed (and Q is written, first time round)
        for (int idx = tid; idx < attn_keys * hd; idx += blockDim.x) {
            const int r = idx / hd, c = idx % hd, j = kb + r;
            float kv = 0.0f, vv = 0.0f;
            if (j < kr.hi) {
                const std::size_t row = std::size_t(s0 + j) * ld;
                kv = to_f(qkv[row + std::size_t(heads + g) * hd + c]);
                vv = to_f(qkv[row + std::size_t(heads + kv_heads + g) * hd + c]);
            }
            Ks[r * (hd + 1) + c] = kv;
            Vs[r * hd + c] = vv;
        }
        __syncthreads();
#pragma unroll
        for (int r = 0; r < attn_q_per_warp; ++r) {
            const int qr = warp * attn_q_per_warp + r;
            const int qi = q0 + qr;
            if (qi >= q1) continue;  // warp-uniform
            const int j = kb + lane;
            const bool ok = j < kr.hi && plan::attends(qi, j, bidirectional, window);
            float s = -INFINITY;
            if (ok) {
                const float* qv = Qs + qr * hd;
                const float* kv = Ks + lane * (hd + 1);
                float dot = 0.0f;
                for (int c = 0; c < hd; ++c) dot += qv[c] * kv[c];
                float v = dot * scale;
                if (softcap > 0.0f) v = tanhf(v / softcap) * softcap;
                s = v;
            }
            const float tmax = warp_max(s);
            if (tmax == -INFINITY) continue;  // warp-uniform: nothing visible in this tile
            const float m_new = fmaxf(m[r], tmax);
            const float alpha = m[r] == -INFINITY ? 0.0f : expf(m[r] - m_new);
            const float p = ok ? expf(s - m_new) : 0.0f;
            l[r] = l[r] * alpha + warp_sum(p);
            m[r] = m_new;
#pragma unroll
            for (int c = 0; c < attn_chunks; ++c) o[r][c] *= alpha;
            for (int jj = 0; jj < attn_keys; ++jj) {
                const float pj = __shfl_sync(0xffffffffu, p, jj);
                const float* vr = Vs + jj * hd;
#pragma unroll
                for (int c = 0; c < attn_chunks; ++c) {
                    const int dd = c * 32 + lane;
                    if (dd < hd) o[r][c] += pj * vr[dd];
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < attn_q_per_warp; ++r) {
        const int qi = q0 + warp * attn_q_per_warp + r;
        if (qi >= q1) continue;
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        T* orow = out + std::size_t(s0 + qi) * std::size_t(heads) * hd + std::size_t(h) * hd;
#pragma unroll
        for (int c = 0; c < attn_chunks; ++c) {
            const int dd = c * 32 + lane;
            if (dd < hd) orow[dd] = from_f<T>(o[r][c] * inv);
        }
    }
}

// ---- attention on tensor cores (16-bit compute types) ---------------------------------------

// FlashAttention-2-style, GQA-aware: a block takes one query tile (16 queries of one sequence)
// and up to tc_max_warps query heads that share one KV head; the block loads each tile of 32
// keys and values once (not once per query head) into shared memory, and each warp (one query
// head) computes S = Q·Kᵀ and P·V with WMMA 16×16×16 tensor-core products (f32 accumulation),
// keeps its running max / sum per query row in f32 and its output rows in f32 shared memory
// (rescaled per row by the online-softmax factor between key tiles). Masks, key ranges,
// scaling and soft-capping are the CUDA-core kernel's (plan::attends, plan::keys_for).
namespace wmma = nvcuda::wmma;
constexpr int tc_keys = 32;
constexpr int tc_rows = 16;  // queries per tile (attention_tile_queries)
constexpr int tc_max_warps = 4;
static_assert(attention_tile_queries == tc_rows, "the tensor-core kernel takes 16-query tiles");

/// Shared memory of one warp: Q [16][hd] (T), S [16][32] f32, P [16][32] (T), O and P·V
/// [16][hd] f32, and the per-row max, sum and rescaling factor (f32). Every part is a multiple
/// of 32 bytes long when hd is a multiple of 16 (WMMA needs 256-bit aligned tiles).
__host__ __device__ inline std::size_t tc_warp_bytes(int hd, std::size_t es) {
    return std::size_t(tc_rows) * hd * es + std::size_t(tc_rows) * tc_keys * 4 +
           std::size_t(tc_rows) * tc_keys * es + 2 * std::size_t(tc_rows) * hd * 4 +
           3 * std::size_t(tc_rows) * 4;
}
/// The block's: K and V tiles [32][hd] (T), then each warp's part.
__host__ __device__ inline std::size_t tc_smem(int hd, int warps, std::size_t es) {
    return 2 * std::size_t(tc_keys) * hd * es + std::size_t(warps) * tc_warp_bytes(hd, es);
}

/// dst (16×16 f32, row-major, leading dimension ldd) = A·B over k in [0, kdim): A is 16×kdim
/// row-major at @p a; B is kdim×16 in layout L at @p b, its row k starting at b + k·b_kstride.
/// One warp; tensor-core WMMA 16×16×16 products with f32 accumulation.
template <class T, class L>
__device__ __forceinline__ void mma_16x16(float* dst, unsigned ldd, const T* a, unsigned lda,
                                          const T* b, unsigned ldb, int b_kstride, int kdim) {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int k = 0; k < kdim; k += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, L> fb;
        wmma::load_matrix_sync(fa, a + k, lda);
        wmma::load_matrix_sync(fb, b + std::ptrdiff_t(k) * b_kstride, ldb);
        wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(dst, acc, ldd, wmma::mem_row_major);
}

template <class T>
__global__ void __launch_bounds__(tc_max_warps * 32)
    attention_tc_kernel(const T* __restrict__ qkv, T* __restrict__ out,
                        const std::int32_t* __restrict__ cu, const plan::attention_tile* tiles,
                        int heads, int kv_heads, int hd, float scale, float softcap, int window,
                        bool bidirectional, int warps) {
    extern __shared__ __align__(128) unsigned char tc_smem_raw[];
    const plan::attention_tile tile = tiles[blockIdx.x];
    const int group = heads / kv_heads;
    const int chunks = (group + warps - 1) / warps;
    const int kvh = int(blockIdx.y) / chunks;
    const int warp = int(threadIdx.x) >> 5, lane = int(threadIdx.x) & 31;
    const int h = kvh * group + (int(blockIdx.y) % chunks) * warps + warp;
    const bool active = h < (kvh + 1) * group;  // warp-uniform
    const tile_span sp(cu, tile, bidirectional, window);
    const int s0 = sp.s0, q0 = sp.q0, q1 = sp.q1;
    const plan::key_range kr = sp.keys;
    const std::size_t ld = std::size_t(heads + 2 * kv_heads) * hd;
    const std::size_t es = sizeof(T);

    T* Ks = reinterpret_cast<T*>(tc_smem_raw);
    T* Vs = Ks + tc_keys * hd;
    unsigned char* wb = reinterpret_cast<unsigned char*>(Vs + tc_keys * hd) +
                        std::size_t(warp) * tc_warp_bytes(hd, es);
    T* Qw = reinterpret_cast<T*>(wb);
    float* Sw = reinterpret_cast<float*>(Qw + tc_rows * hd);
    T* Pw = reinterpret_cast<T*>(Sw + tc_rows * tc_keys);
    float* Ow = reinterpret_cast<float*>(Pw + tc_rows * tc_keys);
    float* PVw = Ow + tc_rows * hd;
    float* mw = PVw + tc_rows * hd;
    float* lw = mw + tc_rows;
    float* aw = lw + tc_rows;

    if (active) {
        for (int idx = lane; idx < tc_rows * hd; idx += 32) {
            const int r = idx / hd, c = idx % hd, q = q0 + r;
            Qw[idx] =
                q < q1 ? qkv[std::size_t(s0 + q) * ld + std::size_t(h) * hd + c] : from_f<T>(0.0f);
            Ow[idx] = 0.0f;
        }
        if (lane < tc_rows) {
            mw[lane] = -INFINITY;
            lw[lane] = 0.0f;
        }
    }

    for (int kb = kr.lo; kb < kr.hi; kb += tc_keys) {
        __syncthreads();  // the previous K/V tile is consumed
        for (int idx = int(threadIdx.x); idx < tc_keys * hd; idx += int(blockDim.x)) {
            const int r = idx / hd, c = idx % hd, j = kb + r;
            T kv = from_f<T>(0.0f), vv = from_f<T>(0.0f);  // zeros past the range: P·V stays finite
            if (j < kr.hi) {
                const std::size_t row = std::size_t(s0 + j) * ld;
                kv = qkv[row + std::size_t(heads + kvh) * hd + c];
                vv = qkv[row + std::size_t(heads + kv_heads + kvh) * hd + c];
            }
            Ks[idx] = kv;
            Vs[idx] = vv;
        }
        __syncthreads();
        if (!active) continue;

        // S = Q·Kᵀ: two 16×16 tiles of keys (Kᵀ is K read column-major).
        for (int n0 = 0; n0 < tc_keys; n0 += 16)
            mma_16x16<T, wmma::col_major>(Sw + n0, tc_keys, Qw, unsigned(hd), Ks + n0 * hd,
                                          unsigned(hd), 1, hd);
        __syncwarp();

        // Online softmax, one lane per query row.
        if (lane < tc_rows) {
            const int r = lane, qi = q0 + r;
            float* srow = Sw + r * tc_keys;
            float tmax = -INFINITY;
            for (int c = 0; c < tc_keys; ++c) {
                const int j = kb + c;
                float v = -INFINITY;
                if (qi < q1 && j < kr.hi && plan::attends(qi, j, bidirectional, window)) {
                    v = srow[c] * scale;
                    if (softcap > 0.0f) v = tanhf(v / softcap) * softcap;
                }
                srow[c] = v;
                tmax = fmaxf(tmax, v);
            }
            const float m_old = mw[r];
            const float m_new = fmaxf(m_old, tmax);
            float alpha = 1.0f, sum = 0.0f;
            if (m_new != -INFINITY) alpha = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
            for (int c = 0; c < tc_keys; ++c) {
                const float p = srow[c] == -INFINITY ? 0.0f : expf(srow[c] - m_new);
                Pw[r * tc_keys + c] = from_f<T>(p);
                sum += p;
            }
            lw[r] = lw[r] * alpha + sum;
            mw[r] = m_new;
            aw[r] = alpha;
        }
        __syncwarp();

        // P·V into PVw, then O = O·alpha + P·V per row.
        for (int c0 = 0; c0 < hd; c0 += 16)
            mma_16x16<T, wmma::row_major>(PVw + c0, unsigned(hd), Pw, tc_keys, Vs + c0,
                                          unsigned(hd), hd, tc_keys);
        __syncwarp();
        for (int idx = lane; idx < tc_rows * hd; idx += 32)
            Ow[idx] = Ow[idx] * aw[idx / hd] + PVw[idx];
        __syncwarp();
    }
    if (!active) return;
    __syncwarp();
    for (int idx = lane; idx < tc_rows * hd; idx += 32) {
        const int r = idx / hd, c = idx % hd, q = q0 + r;
        if (q >= q1) continue;
        const float l = lw[r];
        out[std::size_t(s0 + q) * std::size_t(heads) * hd + std::size_t(h) * hd + c] =
            from_f<T>(l > 0.0f ? Ow[idx] / l : 0.0f);
    }
}

/// Launches the tensor-core kernel for T (f16 / bf16).
template <class T>
cudaError_t launch_attention_tc(const attention_args& a, cudaStream_t stream) {
    const int group = a.heads / a.kv_heads;
    int warps = min(group, tc_max_warps);
    // Fit the block's shared memory within what one block may opt in to.
    int dev = 0, optin = 0;
    cudaError_t err = cudaGetDevice(&dev);
    if (err == cudaSuccess)
        err = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    if (err != cudaSuccess) return err;
    while (warps > 1 && tc_smem(a.head_dim, warps, sizeof(T)) > std::size_t(optin)) --warps;
    const std::size_t smem = tc_smem(a.head_dim, warps, sizeof(T));
    if (smem > std::size_t(optin)) return cudaErrorInvalidValue;
    auto* k = &attention_tc_kernel<T>;
    if (smem > 48 * 1024) {
        err = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
        if (err != cudaSuccess) return err;
    }
    const int chunks = (group + warps - 1) / warps;
    const dim3 grid(static_cast<unsigned>(a.n_tiles), static_cast<unsigned>(a.kv_heads * chunks));
    k<<<grid, unsigned(warps * 32), smem, stream>>>(
        static_cast<const T*>(a.qkv), static_cast<T*>(a.out), a.cu_seqlens, a.tiles, a.heads,
        a.kv_heads, a.head_dim, a.scale, a.softcap, a.window, a.bidirectional, warps);
    return cudaGetLastError();
}

// ---- MLP activation ---------------------------------------------------------------------------

__device__ __forceinline__ float act_apply(act_kind a, float x) {
    switch (a) {
        case act_kind::silu:
            return x / (1.0f + expf(-x));
        case act_kind::gelu_tanh: {
            const float k = 0.7978845608028654f;  // sqrt(2/pi)
            return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
        }
        case act_kind::gelu_erf:
            return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    }
    return x;
}

template <class T>
__global__ void act_mul_kernel(const T* gu, std::size_t rows, int inter, act_kind a, T* out) {
    const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= rows * std::size_t(inter)) return;
    const std::size_t r = i / std::size_t(inter), c = i % std::size_t(inter);
    const T* row = gu + r * 2 * std::size_t(inter);
    out[i] = from_f<T>(act_apply(a, to_f(row[c])) * to_f(row[inter + c]));
}

// ---- scoring, pooling, embedder heads ---------------------------------------------------------

template <class T>
__global__ void gather_rows_kernel(const T* src, int d, const std::int32_t* rows, T* dst) {
    const std::size_t k = blockIdx.x;
    const T* s = src + std::size_t(rows[k]) * d;
    T* o = dst + k * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) o[i] = s[i];
}

constexpr int logprob_threads = 1024;
__device__ __forceinline__ float cap_logit(float v, float cap) {
    return cap > 0.0f ? tanhf(v / cap) * cap : v;
}

/// Merges the running log-sum-exp state (m, s) = (max, Σ exp(x - max)) with (m2, s2).
__device__ __forceinline__ void lse_merge(float& m, float& s, float m2, float s2) {
    const float mx = fmaxf(m, m2);
    if (mx == -INFINITY) return;  // both empty
    s = s * expf(m - mx) + s2 * expf(m2 - mx);
    m = mx;
}

/// One block per row: soft-capping (written back, so that rows downloaded as full logits are the
/// capped ones), then one online log-sum-exp pass in f32 — every thread keeps its own running
/// (max, sum) over a strided slice of the row, warps merge theirs by shuffles — and the 32 warp
/// partials are summed in double by warp 0 (the cpu engine sums its exp terms in double lanes:
/// runtime::log_softmax_at). Rows with a target get log p(target) and the greedy flag
/// (target's logit equals the row's max); rows without one (full logits) only the capping.
__global__ void __launch_bounds__(logprob_threads)
    log_softmax_rows_kernel(float* logits, int vocab, const std::int32_t* targets, float softcap,
                            float* out_lp, std::uint8_t* out_greedy) {
    __shared__ float part_m[32], part_s[32];
    __shared__ float row_max;
    __shared__ double row_lse;
    const std::size_t r = blockIdx.x;
    float* row = logits + r * std::size_t(vocab);
    float m = -INFINITY, s = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        float v = row[i];
        if (softcap > 0.0f) {
            v = cap_logit(v, softcap);
            row[i] = v;
        }
        if (v > m) {
            s = s * expf(m - v) + 1.0f;  // expf(-inf) = 0 on the first element
            m = v;
        } else {
            s += expf(v - m);
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        const float s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(m, s, m2, s2);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        part_m[warp] = m;
        part_s[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        const int nw = int(blockDim.x >> 5);
        float wm = lane < nw ? part_m[lane] : -INFINITY;
        const float mx = warp_max(wm);
        const double term = lane < nw && wm != -INFINITY
                                ? double(part_s[lane]) * exp(double(wm) - double(mx))
                                : 0.0;
        const double total = warp_sum_d(term);
        if (lane == 0) {
            row_max = mx;
            row_lse = double(mx) + log(total);
        }
    }
    __syncthreads();  // also orders the capped writes before the target's read below
    if (threadIdx.x == 0 && targets) {
        const std::int32_t t = targets[r];
        if (t >= 0) {
            const float tv = row[t];
            out_lp[r] = float(double(tv) - row_lse);
            if (out_greedy) out_greedy[r] = tv >= row_max ? 1 : 0;
        }
    }
}

template <class T>
__global__ void pool_kernel(const T* x, int d, const std::int32_t* cu, pool_kind mode, float* out) {
    const int s = blockIdx.x;
    const int i = blockIdx.y * blockDim.x + threadIdx.x;
    if (i >= d) return;
    const int b = cu[s], e = cu[s + 1];
    float* o = out + std::size_t(s) * d + i;
    if (e <= b) {
        *o = 0.0f;
        return;
    }
    switch (mode) {
        case pool_kind::mean: {
            double acc = 0;
            for (int t = b; t < e; ++t) acc += to_f(x[std::size_t(t) * d + i]);
            *o = float(acc / double(e - b));
        } break;
        case pool_kind::last:
            *o = to_f(x[std::size_t(e - 1) * d + i]);
            break;
        case pool_kind::cls:
            *o = to_f(x[std::size_t(b) * d + i]);
            break;
        case pool_kind::max: {
            float mv = -INFINITY;
            for (int t = b; t < e; ++t) mv = fmaxf(mv, to_f(x[std::size_t(t) * d + i]));
            *o = mv;
        } break;
    }
}

__global__ void bias_act_kernel(float* y, std::size_t rows, int cols, const float* bias,
                                bool use_tanh) {
    const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= rows * std::size_t(cols)) return;
    float v = y[i] + (bias ? bias[i % std::size_t(cols)] : 0.0f);
    y[i] = use_tanh ? tanhf(v) : v;
}

__global__ void l2_normalize_kernel(float* y, int cols) {
    float* row = y + std::size_t(blockIdx.x) * cols;
    double ss = 0;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) ss += double(row[i]) * double(row[i]);
    ss = block_sum_d(ss);
    const double nrm = sqrt(ss);
    const float inv = float(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
    for (int i = threadIdx.x; i < cols; i += blockDim.x) row[i] *= inv;
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------

cudaError_t launch_convert(const float* src, void* dst, elem_type t, std::size_t n,
                           cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    POLYGLOT_CUDA_DISPATCH(
        t, convert_kernel<T><<<blocks_for(n, 256), 256, 0, stream>>>(src, static_cast<T*>(dst), n));
    return cudaGetLastError();
}

cudaError_t launch_embed(const std::int32_t* ids, int n, const void* table, elem_type t, int d,
                         float scale, float* x, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    POLYGLOT_CUDA_DISPATCH(t, embed_kernel<T><<<n, row_threads, 0, stream>>>(
                                  ids, static_cast<const T*>(table), d, scale, x));
    return cudaGetLastError();
}

cudaError_t launch_rms_norm(const float* x, int rows, int d, const float* w, float eps, void* out,
                            elem_type t, cudaStream_t stream) {
    if (rows == 0) return cudaSuccess;
    POLYGLOT_CUDA_DISPATCH(t, rms_norm_kernel<T>
                           <<<rows, row_threads, 0, stream>>>(x, d, w, eps, static_cast<T*>(out)));
    return cudaGetLastError();
}

cudaError_t launch_add_norm(float* x, const void* delta, elem_type t, int rows, int d,
                            const float* post_w, const float* next_w, float eps, void* out,
                            cudaStream_t stream) {
    if (rows == 0) return cudaSuccess;
    POLYGLOT_CUDA_DISPATCH(
        t, add_norm_kernel<T><<<rows, row_threads, 0, stream>>>(
               x, static_cast<const T*>(delta), d, post_w, next_w, eps, static_cast<T*>(out)));
    return cudaGetLastError();
}

cudaError_t launch_add_bias(void* y, elem_type t, int rows, int cols, const float* bias,
                            cudaStream_t stream) {
    const std::size_t n = std::size_t(rows) * std::size_t(cols);
    if (n == 0) return cudaSuccess;
    POLYGLOT_CUDA_DISPATCH(t, add_bias_kernel<T><<<blocks_for(n, 256), 256, 0, stream>>>(
                                  static_cast<T*>(y), std::size_t(rows), cols, bias));
    return cudaGetLastError();
}

cudaError_t launch_rope_table(const float* inv_freq, int max_len, int half, float* cos_tab,
                              float* sin_tab, cudaStream_t stream) {
    const std::size_t n = std::size_t(max_len) * std::size_t(half);
    if (n == 0) return cudaSuccess;
    rope_table_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(inv_freq, max_len, half, cos_tab,
                                                              sin_tab);
    return cudaGetLastError();
}

cudaError_t launch_qk_norm_rope(void* qkv, elem_type t, int rows, int heads, int kv_heads,
                                int head_dim, const std::int32_t* pos, const float* cos_tab,
                                const float* sin_tab, const float* q_norm, const float* k_norm,
                                float eps, cudaStream_t stream) {
    const std::size_t items = std::size_t(rows) * std::size_t(heads + kv_heads);
    if (items == 0) return cudaSuccess;
    const std::size_t smem = sizeof(float) * std::size_t(rope_warps) * head_dim;
    POLYGLOT_CUDA_DISPATCH(
        t, qk_norm_rope_kernel<T><<<blocks_for(items, rope_warps), rope_warps * 32, smem, stream>>>(
               static_cast<T*>(qkv), rows, heads, kv_heads, head_dim, pos, cos_tab, sin_tab, q_norm,
               k_norm, eps));
    return cudaGetLastError();
}

cudaError_t launch_attention(const attention_args& a, cudaStream_t stream) {
    if (a.n_tiles == 0) return cudaSuccess;
    if (a.head_dim <= 0 || a.head_dim > attention_max_head_dim || a.kv_heads <= 0 ||
        a.heads % a.kv_heads != 0)
        return cudaErrorInvalidValue;
    if (a.tensor_cores && a.head_dim % 16 == 0) {
        if (a.type == elem_type::bf16) return launch_attention_tc<__nv_bfloat16>(a, stream);
        if (a.type == elem_type::f16) return launch_attention_tc<__half>(a, stream);
    }
    const std::size_t smem = attention_smem(a.head_dim);
    const dim3 grid(static_cast<unsigned>(a.n_tiles), static_cast<unsigned>(a.heads));
    cudaError_t err = cudaSuccess;
    POLYGLOT_CUDA_DISPATCH(a.type, {
        auto* k = &attention_kernel<T>;
        if (smem > 48 * 1024)
            err = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem));
        if (err == cudaSuccess)
            k<<<grid, attn_warps * 32, smem, stream>>>(
                static_cast<const T*>(a.qkv), static_cast<T*>(a.out), a.cu_seqlens, a.tiles,
                a.heads, a.kv_heads, a.head_dim, a.scale, a.softcap, a.window, a.bidirectional);
    });
    if (err != cudaSuccess) return err;
    return cudaGetLastError();
}

cudaError_t launch_act_mul(const void* gu, elem_type t, int rows, int inter, act_kind act,
                           void* out, cudaStream_t stream) {
    const std::size_t n = std::size_t(rows) * std::size_t(inter);
    if (n == 0) return cudaSuccess;
    POLYGLOT_CUDA_DISPATCH(
        t, act_mul_kernel<T><<<blocks_for(n, 256), 256, 0, stream>>>(
               static_cast<const T*>(gu), std::size_t(rows), inter, act, static_cast<T*>(out)));
    return cudaGetLastError();
}

cudaError_t launch_gather_rows(const void* src, elem_type t, int d, const std::int32_t* rows, int n,
                               void* dst, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    POLYGLOT_CUDA_DISPATCH(t, gather_rows_kernel<T><<<n, row_threads, 0, stream>>>(
                                  static_cast<const T*>(src), d, rows, static_cast<T*>(dst)));
    return cudaGetLastError();
}

cudaError_t launch_log_softmax_rows(float* logits, int n, int vocab, const std::int32_t* targets,
                                    float softcap, float* out_lp, std::uint8_t* out_greedy,
                                    cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    log_softmax_rows_kernel<<<n, logprob_threads, 0, stream>>>(logits, vocab, targets, softcap,
                                                               out_lp, out_greedy);
    return cudaGetLastError();
}

cudaError_t launch_pool(const void* x, elem_type t, int d, const std::int32_t* cu_seqlens,
                        int n_seqs, pool_kind mode, float* out, cudaStream_t stream) {
    if (n_seqs == 0) return cudaSuccess;
    const dim3 grid(static_cast<unsigned>(n_seqs), blocks_for(std::size_t(d), row_threads));
    POLYGLOT_CUDA_DISPATCH(t, pool_kernel<T><<<grid, row_threads, 0, stream>>>(
                                  static_cast<const T*>(x), d, cu_seqlens, mode, out));
    return cudaGetLastError();
}

cudaError_t launch_bias_act_f32(float* y, int rows, int cols, const float* bias, bool use_tanh,
                                cudaStream_t stream) {
    const std::size_t n = std::size_t(rows) * std::size_t(cols);
    if (n == 0) return cudaSuccess;
    bias_act_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(y, std::size_t(rows), cols, bias,
                                                            use_tanh);
    return cudaGetLastError();
}

cudaError_t launch_l2_normalize(float* y, int rows, int cols, cudaStream_t stream) {
    if (rows == 0) return cudaSuccess;
    l2_normalize_kernel<<<rows, row_threads, 0, stream>>>(y, cols);
    return cudaGetLastError();
}

}  // namespace cuda
POLYGLOT_END_NAMESPACE
