// SPDX-License-Identifier: Apache-2.0
/// @file Vector kernels of the cpu engine and the runtime's log-softmax, compiled once per
/// instruction set (SSE2 baseline, AVX2 + FMA, AVX-512) and chosen once at load from cpuid;
/// POLYGLOT_CPU_ISA=sse2|avx2|avx512 forces a path (tests run every path the CPU has).
///
/// Each kernel is serial (the engine schedules them on its threads) and computes every output
/// element with one fixed sequence of operations that depends only on the element's own inputs
/// and the selected path: never on the other columns of a call, on how a caller split its
/// work into calls, or on alignment. That is what makes the engine's results independent of
/// the thread count, of the batch, and of how a sequence was split into passes. Different
/// paths round differently (FMA, lane counts); a process uses one path at a time.
///
/// Weights stay in their checkpoint dtype (f32, bf16, f16) and are widened in registers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace cpu_kernels {

/// Instruction-set paths, in increasing order of capability.
enum class isa : std::uint8_t {
    sse2,    ///< x86-64 baseline (4 lanes, no FMA)
    avx2,    ///< AVX2 + FMA + F16C (8 lanes)
    avx512,  ///< AVX-512 F/BW/DQ/VL + FMA + F16C (16 lanes)
};
inline constexpr isa all_isas[] = {isa::sse2, isa::avx2, isa::avx512};

[[nodiscard]] std::string_view isa_name(isa i) noexcept;
/// Whether this CPU (and OS) runs the path.
[[nodiscard]] bool isa_supported(isa i) noexcept;
/// The best path this CPU runs.
[[nodiscard]] isa best_isa() noexcept;
/// The CPU's vector features as a space-separated list ("avx2 fma f16c avx512f ...").
[[nodiscard]] std::string cpu_features();

/// Element type of a weight matrix as stored in the checkpoint.
enum class wtype : std::uint8_t { f32, bf16, f16 };

/// A row-major weight matrix in its stored type: rows × cols, ld elements between rows.
struct weights_view {
    const void* data = nullptr;
    wtype type = wtype::f32;
    std::ptrdiff_t rows = 0, cols = 0, ld = 0;
    /// Rows [r0, r0 + n).
    [[nodiscard]] weights_view slice(std::ptrdiff_t r0, std::ptrdiff_t n) const noexcept {
        const std::size_t esz = type == wtype::f32 ? 4 : 2;
        return {static_cast<const std::byte*>(data) + std::size_t(r0 * ld) * esz, type, n, cols,
                ld};
    }
};

/// Gated activations of a GLU MLP: out = act(gate) * up.
enum class glu : std::uint8_t { silu, gelu_tanh, gelu_erf };

/// Keys and values of one KV head, in blocks of attn_block positions: block b holds positions
/// [attn_block·b, attn_block·b + attn_block), K transposed (hd rows of attn_block floats) and V
/// by position (attn_block rows of hd floats).
inline constexpr std::ptrdiff_t attn_block = 16;

/// Scaled dot-product attention of nq queries of one head.
struct attention_args {
    std::ptrdiff_t hd = 0, nq = 0;
    const float* q = nullptr;  ///< query j: q + j·ldq (hd floats)
    std::ptrdiff_t ldq = 0;
    float* out = nullptr;  ///< output j: out + j·ldo (hd floats; may be query j itself)
    std::ptrdiff_t ldo = 0;
    const std::ptrdiff_t* key_begin = nullptr;  ///< query j attends to positions
    const std::ptrdiff_t* key_end = nullptr;    ///< [key_begin[j], key_end[j]) (non-empty)
    const float* const* k_blocks = nullptr;     ///< per block: K^T [hd][attn_block]
    const float* const* v_blocks = nullptr;     ///< per block: V [attn_block][hd]
    float scale = 1, softcap = 0;               ///< s = q·k·scale; softcap > 0: tanh(s/c)·c
    float* scratch = nullptr;                   ///< attention_scratch(max key_end) floats
};
/// Floats of scratch for keys at positions below @p max_key_end.
[[nodiscard]] constexpr std::size_t attention_scratch(std::ptrdiff_t max_key_end) noexcept {
    return std::size_t(4 * (max_key_end / attn_block + 2) * attn_block);
}

/// One path's kernels.
struct table {
    isa level;
    /// Y[j * ldy + i] = Σ_k W[i, k] · X[j * ldx + k] (+ bias[i]) for i < w.rows, j < n; with
    /// @p accumulate, Y[...] += that value instead. Per element: lanes over k (FMA in k order),
    /// one fixed lane tree, then the bias, then the addition to Y. The caller passes a W block
    /// that fits the L2 cache (see gemm_row_block); each W row is read once per 4-8 columns.
    void (*gemm)(const weights_view& w, const float* x, std::ptrdiff_t ldx, std::ptrdiff_t n,
                 float* y, std::ptrdiff_t ldy, const float* bias, bool accumulate);
    /// max(x[0..n)) (NaN when any is NaN; -inf for n = 0).
    float (*max)(const float* x, std::size_t n);
    /// Σ exp(x[i] - shift): exp in f32 (≤ 2 ulp), the sum in double lanes.
    double (*sum_exp)(const float* x, std::size_t n, float shift);
    /// Σ a[i] · b[i] (lanes, FMA, one fixed tree).
    float (*dot)(const float* a, const float* b, std::ptrdiff_t n);
    /// y[i] += a · x[i].
    void (*axpy)(float a, const float* x, float* y, std::ptrdiff_t n);
    /// y[i] *= a.
    void (*scale)(float a, float* y, std::ptrdiff_t n);
    /// y[i] += x[i].
    void (*add)(const float* x, float* y, std::ptrdiff_t n);
    /// out[i] = (x[i] · r) · w[i], r = 1 / sqrt(mean(x²) + eps) (the mean accumulated in
    /// double); out may be x.
    void (*rms_norm)(const float* x, const float* w, std::ptrdiff_t n, float eps, float* out);
    /// out[i] = act(gate[i]) · up[i]; out may be gate or up.
    void (*glu)(glu act, const float* gate, const float* up, float* out, std::ptrdiff_t n);
    /// out[i] = x[i] widened to float (exact).
    void (*widen)(const void* x, wtype t, float* out, std::ptrdiff_t n);
    /// Per query: scores over its keys (an FMA chain over the head dimension), softmax (f32
    /// exp, the sum in double lanes), then Σ p·v over the keys in position order. A query's
    /// values depend only on its own query, keys and values (not on the other queries of the
    /// call, nor on which keys they attend to), so a token gets the same attention in a
    /// prefill pass, a decode step or a recomputation.
    void (*attention)(const attention_args& a);
    /// Rows of W per GEMM call for a K-column weight: a block of about a quarter of L2.
    std::ptrdiff_t (*gemm_row_block)(std::ptrdiff_t k, wtype t);
};

/// The kernels of path @p i (which must be supported).
[[nodiscard]] const table& kernels_for(isa i) noexcept;
/// The process's active path: POLYGLOT_CPU_ISA when set, else best_isa(), decided at the first
/// call. Throws argument_error when POLYGLOT_CPU_ISA names an unknown path or one this CPU
/// lacks.
[[nodiscard]] const table& kernels();
/// Makes @p i the active path (tests; never while kernels run).
void force_isa(isa i);

/// log softmax(logits)[target] = logits[target] - max - log Σ exp(logits - max): the one
/// formula every device and the sampler use (runtime/device.hpp), on the active path.
[[nodiscard]] float log_softmax_at(const float* logits, std::size_t n, std::size_t target);

}  // namespace cpu_kernels
POLYGLOT_END_NAMESPACE
