// SPDX-License-Identifier: Apache-2.0
/// @file The cuda plugin's host-side index math, shared by the kernels (.cu, through nvcc), the
/// host code (.cpp) and the CPU tests (tests/cuda/cuda_plugin_test.cpp): packed-sequence
/// offsets (cu_seqlens), the attention work tiles, the key range and mask of one query, memory
/// budgets and the log-softmax chunking. (Truncation and batch plans are the shared runtime's:
/// plugins/common/truncation.hpp, plugins/common/runtime/lm_runtime.hpp.)
/// Everything here is plain C++ with no CUDA types, so a CPU test checks exactly what the GPU
/// code uses. Functions marked POLYGLOT_CUDA_HD also compile as __host__ __device__.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <polyglot/version.hpp>
#include <span>
#include <utility>
#include <vector>

#if defined(__CUDACC__)
#define POLYGLOT_CUDA_HD __host__ __device__
#else
#define POLYGLOT_CUDA_HD
#endif

POLYGLOT_BEGIN_NAMESPACE
namespace cuda::plan {

/// Prefix sums of the sequence lengths: sequence s occupies packed rows
/// [cu[s], cu[s + 1]); cu has lengths.size() + 1 entries.
inline std::vector<std::int32_t> cu_seqlens(std::span<const std::size_t> lengths) {
    std::vector<std::int32_t> cu(lengths.size() + 1, 0);
    for (std::size_t s = 0; s < lengths.size(); ++s)
        cu[s + 1] = cu[s] + static_cast<std::int32_t>(lengths[s]);
    return cu;
}

/// Position of every packed row inside its sequence (RoPE positions).
inline std::vector<std::int32_t> positions(std::span<const std::int32_t> cu) {
    std::vector<std::int32_t> pos(cu.empty() ? 0 : static_cast<std::size_t>(cu.back()));
    for (std::size_t s = 0; s + 1 < cu.size(); ++s)
        for (std::int32_t i = cu[s]; i < cu[s + 1]; ++i)
            pos[static_cast<std::size_t>(i)] = i - cu[s];
    return pos;
}

// ---- attention ----------------------------------------------------------------------------------

/// One block of the attention kernel: queries [q0, q0 + tile) of sequence `seq`.
struct attention_tile {
    std::int32_t seq = 0;
    std::int32_t q0 = 0;
};

/// Every query tile of every sequence (no tile straddles two sequences: no padding waste
/// beyond the last partial tile of each sequence).
inline std::vector<attention_tile> attention_tiles(std::span<const std::int32_t> cu,
                                                   std::int32_t tile) {
    std::vector<attention_tile> t;
    for (std::size_t s = 0; s + 1 < cu.size(); ++s)
        for (std::int32_t q0 = 0; q0 < cu[s + 1] - cu[s]; q0 += tile)
            t.push_back({static_cast<std::int32_t>(s), q0});
    return t;
}

/// Whether query i may attend key j of the same sequence (the cpu engine's rule): causal
/// unless @p bidirectional; with a window w > 0, i - j < w (causal) or |i - j| < w.
POLYGLOT_CUDA_HD inline bool attends(std::int32_t i, std::int32_t j, bool bidirectional,
                                     std::int32_t window) {
    if (!bidirectional && j > i) return false;
    if (window > 0) {
        const std::int32_t dist = i > j ? i - j : j - i;
        return dist < window;
    }
    return true;
}

/// Keys [lo, hi) that queries [q0, q1) of a sequence of length n can attend (a superset of
/// every query's own range; `attends` decides per pair).
struct key_range {
    std::int32_t lo = 0, hi = 0;
};
POLYGLOT_CUDA_HD inline key_range keys_for(std::int32_t q0, std::int32_t q1, std::int32_t n,
                                           bool bidirectional, std::int32_t window) {
    key_range r{0, bidirectional ? n : q1};
    if (window > 0) {
        r.lo = q0 - window + 1 > 0 ? q0 - window + 1 : 0;
        if (bidirectional) r.hi = q1 + window - 1 < n ? q1 + window - 1 : n;
    }
    return r;
}

// ---- scoring ------------------------------------------------------------------------------------

/// One log-prob to compute: the hidden state of packed row `row` predicts token `target`; the
/// result goes to slot `slot` of the batch's output.
struct score_job {
    std::int32_t row = 0;
    std::int32_t target = 0;
};

/// Rows of logits computed at once: as many as fit in @p budget_bytes of f32 logits of a
/// vocabulary of @p vocab, within [1, max_rows].
inline std::size_t logit_rows_per_chunk(std::size_t vocab, std::size_t budget_bytes,
                                        std::size_t max_rows) {
    const std::size_t per_row = std::max<std::size_t>(vocab, 1) * sizeof(float);
    return std::clamp<std::size_t>(budget_bytes / per_row, 1, std::max<std::size_t>(max_rows, 1));
}

// ---- memory -------------------------------------------------------------------------------------

/// Model shape as the planner needs it.
struct shape {
    std::size_t hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, inter = 0, vocab = 0;
};

/// Device bytes one packed token needs during a forward pass with activations of @p elem bytes:
/// the f32 residual, the normed input, q/k/v, the attention output, the projection output, the
/// gate/up pair, the activation, and the per-token index arrays.
inline std::size_t bytes_per_token(const shape& s, std::size_t elem) {
    const std::size_t qkv = (s.heads + 2 * s.kv_heads) * s.head_dim;
    return s.hidden * 4                   // residual (f32)
           + s.hidden * elem              // normed input
           + qkv * elem                   // q, k, v
           + s.heads * s.head_dim * elem  // attention output
           + s.hidden * elem              // o / down projection output
           + 2 * s.inter * elem           // gate | up
           + s.inter * elem               // activation
           + 4 * sizeof(std::int32_t);    // ids, positions, score jobs
}

/// Token budget of one batch: @p fraction of the free device memory (after the logit chunk
/// reserve) divided by bytes_per_token, within [min_tokens, max_tokens].
inline std::size_t token_budget(std::size_t free_bytes, std::size_t reserve_bytes,
                                std::size_t per_token, double fraction, std::size_t min_tokens,
                                std::size_t max_tokens) {
    const std::size_t usable =
        free_bytes > reserve_bytes
            ? static_cast<std::size_t>(static_cast<double>(free_bytes - reserve_bytes) * fraction)
            : 0;
    const std::size_t n = usable / std::max<std::size_t>(per_token, 1);
    return std::clamp(n, min_tokens, std::max(min_tokens, max_tokens));
}

}  // namespace cuda::plan
POLYGLOT_END_NAMESPACE
