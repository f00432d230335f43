// SPDX-License-Identifier: Apache-2.0
/// @file The device part of a model backend: the only thing a backend (cpu, cuda, ...)
/// implements. Everything a user can observe — tokenization, special tokens, truncation, what
/// is scored, batching, KV-cache bookkeeping, sampling, stopping — is decided by the runtime
/// (runtime/lm_runtime.hpp) on top of this interface, so that backends cannot drift.
///
/// A device loads the weights and runs forward passes over packed sequences. A sequence in a
/// pass either carries its KV-cache block table (the runtime allocates blocks from a pool of
/// kv_blocks() blocks of kv_block_tokens() tokens; a pass appends its tokens' keys and values at
/// positions pos0, pos0 + 1, ... and attends to everything cached before them), or has no
/// cache (the pass holds the whole sequence: SCORE, EMBED, and devices without a cache).
///
/// Determinism contract (what the runtime's reproducibility rests on): the outputs for a row
/// depend only on the sequence's own tokens — never on the other sequences of the pass, on the
/// thread count, or (cached passes) on how the sequence's tokens were split into passes.
///
/// Forward-pass steps: every device's pass (cpu: engine/transformer.cpp, cuda: engine.cpp, the
/// self-test's reference: runtime/reference_device.cpp) is cut into the same named steps, so a
/// new architecture operation lands at the same step in each: embed (token embeddings, Gemma's
/// scale); per layer attention_block (input norm, q/k/v, q/k norms, RoPE, attention, output
/// projection, Gemma 3's post-attention norm, residual) and mlp_block (pre-MLP norm, gated MLP,
/// Gemma 3's post-MLP norm, residual); final_norm; pool (EMBED); head (logits at the requested
/// rows, final soft-capping, log-probs). A backend that fuses a norm into a neighbouring step
/// says so where it does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <polyglot/version.hpp>
#include <span>
#include <string>

#include "common/cpu_kernels/kernels.hpp"
#include "common/model_config.hpp"
#include "common/st_modules.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

using token_id = std::uint32_t;

/// One result a pass computes at one row (token) of a sequence: the distribution of the token
/// that follows it.
struct output_request {
    std::uint32_t row = 0;           ///< index into forward_seq::ids
    std::int32_t target = -1;        ///< >= 0: log p(target); < 0: the full logits
    float* logprob = nullptr;        ///< target >= 0: log_softmax_at(logits, target)
    std::uint8_t* greedy = nullptr;  ///< (optional, target >= 0) 1 when target is an argmax
    float* logits = nullptr;         ///< target < 0: vocab_size floats (after soft-capping)
};

/// One sequence of a pass.
struct forward_seq {
    std::span<const token_id> ids;  ///< the pass's tokens, at positions pos0, pos0 + 1, ...
    std::size_t pos0 = 0;           ///< tokens of the sequence already in its KV blocks
    /// KV-cache blocks of the sequence in order, covering pos0 + ids.size() tokens. Empty: no
    /// cache (pos0 is 0 and the pass holds the whole sequence).
    std::span<const std::uint32_t> blocks;
    std::span<const output_request> outputs;
    model::pooling_mode pooling = model::pooling_mode::mean;
    float* pooled = nullptr;  ///< (no cache) pooled final hidden state, hidden_size floats
};

class device_model {
  public:
    virtual ~device_model() = default;
    [[nodiscard]] virtual const model::model_config& config() const noexcept = 0;
    [[nodiscard]] virtual bool has_lm_head() const noexcept = 0;
    /// JSON members, without braces, describing the backend and the weights:
    /// "backend": "cpu", "device": "cpu", "dtype": ..., "parameters": ...
    [[nodiscard]] virtual std::string describe_json() const = 0;
    /// Tokens per forward pass (the runtime's budget for one pass).
    [[nodiscard]] virtual std::size_t pass_tokens() const noexcept = 0;
    /// Tokens per KV-cache block; 0 = the device has no KV cache.
    [[nodiscard]] virtual std::size_t kv_block_tokens() const noexcept { return 0; }
    /// Bytes of KV cache per token (all layers), for sizing the pool.
    [[nodiscard]] virtual std::size_t kv_bytes_per_token() const noexcept { return 0; }
    /// Makes room for @p blocks blocks (ids 0 .. blocks - 1); their contents are undefined.
    virtual void kv_reserve(std::size_t blocks) { (void)blocks; }
    /// One forward pass. Ids are within the vocabulary (the runtime checks). Throws on device
    /// failures.
    virtual void forward(std::span<const forward_seq> batch) = 0;
    /// Runs f(i) for every i in [0, n), possibly in parallel on the backend's host threads
    /// (the runtime's tokenization and sampling).
    virtual void parallel_for(std::size_t n, const std::function<void(std::size_t)>& f) const {
        for (std::size_t i = 0; i < n; ++i) f(i);
    }
};

/// log softmax(logits)[target], the one formula every device and the sampler use: the max,
/// then Σ exp(l - max) with a vectorised f32 exp summed in double lanes, on the process's
/// cpu_kernels path (common/cpu_kernels/kernels.hpp).
inline float log_softmax_at(const float* logits, std::size_t n, std::size_t target) {
    return cpu_kernels::log_softmax_at(logits, n, target);
}

}  // namespace runtime
POLYGLOT_END_NAMESPACE
