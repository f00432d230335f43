// SPDX-License-Identifier: Apache-2.0
/// @file The cuda plugin's decoder-only transformer (Llama, Qwen2, Qwen3, Gemma 3 text): weights
/// on the device in the compute type (bf16 / f16 as stored, f32 for f32 models), one packed
/// variable-length prefill per batch, cuBLAS GEMMs with f32 accumulation, fused kernels
/// (kernels.hpp) for norms, RoPE, attention and activations, and log-probs computed only at the
/// requested positions, in chunks of positions.
///
/// Config and weights come from the shared loaders (plugins/common: model_config, safetensors,
/// st_modules); the numerics follow the cpu engine (plugins/cpu/engine/transformer.cpp).
/// Not thread-safe: the owner serialises calls (the workspace is shared).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/model_config.hpp"
#include "common/st_modules.hpp"
#include "kernels.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cuda {

struct load_options {
    std::string dtype;             ///< "" = as stored (bf16/f16, else f32) | "f32" | "f16" | "bf16"
    int device = 0;                ///< CUDA device ordinal
    std::size_t batch_tokens = 0;  ///< token budget per batch; 0 = from free device memory
    bool need_lm_head = false;     ///< fail when the model has no output projection
};

/// One sequence of a batch.
struct seq_request {
    std::span<const std::uint32_t> ids;
    /// Log-probs of ids[p] given ids[0, p) for p in [max(score_from, 1), ids.size()) go to
    /// logprobs[p - max(score_from, 1)] (null: none).
    std::size_t score_from = 0;
    double* logprobs = nullptr;
    /// Pooled (then Dense / Normalize when an embedding head is set) output, embed_dim() floats
    /// (null: none).
    float* pooled = nullptr;
};

class transformer {
  public:
    static std::unique_ptr<transformer> load(const std::filesystem::path& dir,
                                             const load_options& opts);
    ~transformer();
    transformer(const transformer&) = delete;
    transformer& operator=(const transformer&) = delete;

    [[nodiscard]] const model::model_config& config() const noexcept;
    [[nodiscard]] elem_type compute_type() const noexcept;
    [[nodiscard]] bool has_lm_head() const noexcept;
    [[nodiscard]] std::size_t parameter_count() const noexcept;
    /// Tokens per packed batch (from batch_tokens or the free memory after loading).
    [[nodiscard]] std::size_t token_budget() const noexcept;
    [[nodiscard]] int device() const noexcept;

    /// Pooling mode and the sentence-transformers Dense / Normalize modules applied to pooled
    /// outputs (uploaded as f32). Without a call: mean pooling, no head.
    void set_embedding_head(model::pooling_mode pooling, const std::vector<model::st_dense>& dense,
                            bool normalize);
    [[nodiscard]] std::size_t embed_dim() const noexcept;

    /// Runs one packed forward pass over @p batch (its token count should stay within
    /// token_budget(); a longer single sequence still runs). Empty sequences are skipped (their
    /// pooled output is zero). Throws status_error on device failures, argument_error on ids
    /// outside the vocabulary.
    void run(std::span<const seq_request> batch);

    struct impl;

  private:
    explicit transformer(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace cuda
POLYGLOT_END_NAMESPACE
