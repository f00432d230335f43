// SPDX-License-Identifier: Apache-2.0
/// @file Launchers of the cuda plugin's kernels (plugins/cuda/kernels.cu). Plain C++ with the
/// CUDA runtime's C header only: element types are passed as `elem_type` + `void*`, so host code
/// compiled by g++ never sees cuda_fp16.h / cuda_bf16.h and the .cu file stays the only place
/// that instantiates per-type templates.
///
/// Layouts: activations are row-major [rows, cols] with one packed token per row (sequences
/// back to back, offsets in cu_seqlens); the residual stream is f32, every other activation has
/// the model's compute type. Every launcher enqueues on @p stream and returns the launch status
/// (cudaGetLastError); none synchronises.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <polyglot/version.hpp>

#include "plan.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cuda {

/// Element type of weights and activations.
enum class elem_type : int { f32 = 0, f16 = 1, bf16 = 2 };

[[nodiscard]] constexpr std::size_t elem_size(elem_type t) noexcept {
    return t == elem_type::f32 ? 4 : 2;
}
[[nodiscard]] constexpr const char* elem_name(elem_type t) noexcept {
    return t == elem_type::f32 ? "f32" : t == elem_type::f16 ? "f16" : "bf16";
}

/// Activation functions of the gated MLP (matches model::activation).
enum class act_kind : int { silu = 0, gelu_tanh = 1, gelu_erf = 2 };
/// Pooling modes (matches model::pooling_mode).
enum class pool_kind : int { mean = 0, last = 1, cls = 2, max = 3 };

/// dst[i] = (type) src[i] for n f32 values (weight upload when the stored dtype differs).
cudaError_t launch_convert(const float* src, void* dst, elem_type t, std::size_t n,
                           cudaStream_t stream);

/// x[r, :] = table[ids[r], :] * scale (f32 out), for n rows of width d.
cudaError_t launch_embed(const std::int32_t* ids, int n, const void* table, elem_type t, int d,
                         float scale, float* x, cudaStream_t stream);

/// out[r, :] = x[r, :] * rsqrt(mean(x[r, :]²) + eps) * w (w already holds 1 + w for Gemma).
cudaError_t launch_rms_norm(const float* x, int rows, int d, const float* w, float eps, void* out,
                            elem_type t, cudaStream_t stream);

/// Residual update fused with the next norm: t = delta (or rms_norm(delta) * post_w when post_w
/// is not null); x += t; out = rms_norm(x) * next_w.
cudaError_t launch_add_norm(float* x, const void* delta, elem_type t, int rows, int d,
                            const float* post_w, const float* next_w, float eps, void* out,
                            cudaStream_t stream);

/// y[r, c] += bias[c].
cudaError_t launch_add_bias(void* y, elem_type t, int rows, int cols, const float* bias,
                            cudaStream_t stream);

/// cos/sin tables [max_len, half]: angle = inv_freq[i] * p in f32, cos/sin in double (built
/// at load and grown only when a pass needs longer positions).
cudaError_t launch_rope_table(const float* inv_freq, int max_len, int half, float* cos_tab,
                              float* sin_tab, cudaStream_t stream);

/// Per row and head of the packed q|k|v rows (row stride (H + 2 KV) * hd): optional per-head
/// RMSNorm of q and k (q_norm / k_norm, null = none), then rotate-half RoPE at pos[row].
cudaError_t launch_qk_norm_rope(void* qkv, elem_type t, int rows, int heads, int kv_heads,
                                int head_dim, const std::int32_t* pos, const float* cos_tab,
                                const float* sin_tab, const float* q_norm, const float* k_norm,
                                float eps, cudaStream_t stream);

/// The fused variable-length attention over packed sequences.
struct attention_args {
    const void* qkv = nullptr;  ///< [rows, (H + 2 KV) * hd]
    void* out = nullptr;        ///< [rows, H * hd]
    elem_type type = elem_type::f32;
    const std::int32_t* cu_seqlens = nullptr;     ///< [n_seqs + 1]
    const plan::attention_tile* tiles = nullptr;  ///< query tiles of attention_tile_queries
    int n_tiles = 0;
    int heads = 0, kv_heads = 0, head_dim = 0;
    float scale = 1.0f;    ///< applied to q·k
    float softcap = 0.0f;  ///< 0 = none, else cap * tanh(s / cap)
    int window = 0;        ///< 0 = none
    bool bidirectional = false;
    /// bf16 / f16 with head_dim a multiple of 16: the tensor-core (WMMA) kernel, GQA-aware;
    /// false, f32, or other head sizes: the CUDA-core kernel.
    bool tensor_cores = true;
};
/// Queries per attention tile (plan::attention_tiles must be built with this).
inline constexpr int attention_tile_queries = 16;
/// Largest head_dim the attention kernel handles.
inline constexpr int attention_max_head_dim = 256;
cudaError_t launch_attention(const attention_args& a, cudaStream_t stream);

/// out[r, i] = act(gu[r, i]) * gu[r, inter + i].
cudaError_t launch_act_mul(const void* gu, elem_type t, int rows, int inter, act_kind act,
                           void* out, cudaStream_t stream);

/// dst[k, :] = src[rows[k], :] for n rows of width d.
cudaError_t launch_gather_rows(const void* src, elem_type t, int d, const std::int32_t* rows, int n,
                               void* dst, cudaStream_t stream);

/// For n rows of vocab f32 logits, in one fused pass per row: logits[r, :] = cap(logits[r, :])
/// in place (softcap 0 = none), then, where targets[r] >= 0, out_lp[r] =
/// log_softmax(logits[r, :])[targets[r]] (online log-sum-exp in f32, the warp partials summed
/// in double) and out_greedy[r] (may be null) = 1 when targets[r] is an argmax of the row.
/// Rows with targets[r] < 0 are only capped (full logits for the caller).
cudaError_t launch_log_softmax_rows(float* logits, int n, int vocab, const std::int32_t* targets,
                                    float softcap, float* out_lp, std::uint8_t* out_greedy,
                                    cudaStream_t stream);

/// out[s, :] (f32) = pooling over rows [cu[s], cu[s + 1]) of x, for n_seqs sequences.
cudaError_t launch_pool(const void* x, elem_type t, int d, const std::int32_t* cu_seqlens,
                        int n_seqs, pool_kind mode, float* out, cudaStream_t stream);

/// y[r, c] = act(y[r, c] + bias[c]) on f32 (bias may be null; tanh when use_tanh).
cudaError_t launch_bias_act_f32(float* y, int rows, int cols, const float* bias, bool use_tanh,
                                cudaStream_t stream);

/// y[r, :] /= max(||y[r, :]||, 1e-12) (torch.nn.functional.normalize).
cudaError_t launch_l2_normalize(float* y, int rows, int cols, cudaStream_t stream);

}  // namespace cuda
POLYGLOT_END_NAMESPACE
