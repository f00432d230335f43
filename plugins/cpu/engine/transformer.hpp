// SPDX-License-Identifier: Apache-2.0
/// @file The cpu engine's decoder-only transformer (Llama, Qwen2, Qwen3, Gemma 3 text): prefill
/// of packed variable-length sequences in f32 with Eigen GEMMs scheduled by TBB.
///
/// Determinism: every sequence's values are bit-identical whatever else is in the batch and
/// whatever the thread count. Linear layers run as Eigen GEMMs over fixed tiles (weight rows in
/// blocks fixed by the weight's shape, tokens in blocks of a multiple of 4 columns: with the
/// token count a multiple of Eigen's nr = 4 every token column takes the same micro-kernel
/// path, so its result does not depend on its neighbours); attention, norms and pooling work
/// per sequence and per token; no reduction is split across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/model_config.hpp"
#include "common/st_modules.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace engine {

using token_id = std::uint32_t;

/// What to compute for one sequence of a batch.
struct seq_request {
    std::span<const token_id> ids;
    /// Log-probs of ids[p] given ids[0, p) for p in [max(score_from, 1), ids.size()) go to
    /// logprobs[p - max(score_from, 1)] (null: none).
    std::size_t score_from = 0;
    float* logprobs = nullptr;
    /// Pooled final hidden state (after the final norm) into pooled[hidden_size] (null: none).
    model::pooling_mode pooling = model::pooling_mode::mean;
    float* pooled = nullptr;
    /// Logits (after final soft-capping) at the last position into next_logits[vocab] (null:
    /// none); for greedy decoding and tests.
    float* next_logits = nullptr;
};

class transformer {
  public:
    /// Loads config.json and the safetensors weights of @p dir (bf16 / f16 weights are widened
    /// to f32 at load). @p need_lm_head: fail when the model has no output projection.
    static std::unique_ptr<transformer> load(const std::filesystem::path& dir, bool need_lm_head);
    ~transformer();

    [[nodiscard]] const model::model_config& config() const noexcept;
    [[nodiscard]] bool has_lm_head() const noexcept;
    [[nodiscard]] std::size_t parameter_count() const noexcept;
    /// Stored dtype of most weights ("f32", "bf16", "f16").
    [[nodiscard]] std::string weight_dtype() const;

    /// Runs every request's sequence (one prefill, packed without padding). Thread-safe
    /// (const, scratch per call); parallel inside with TBB. Empty sequences are skipped.
    void run(std::span<const seq_request> batch) const;

    struct weights;

  private:
    explicit transformer(std::unique_ptr<weights> w);
    std::unique_ptr<weights> w_;
};

/// y[out] = act(W x + b) for a sentence-transformers Dense module; loaded from its directory.
class dense_layer {
  public:
    explicit dense_layer(const model::st_dense& spec);
    [[nodiscard]] std::int64_t in_features() const noexcept { return in_; }
    [[nodiscard]] std::int64_t out_features() const noexcept { return out_; }
    /// Applies the layer to @p n rows of in_features floats (row-major) into @p out.
    void apply(const float* in, std::size_t n, float* out) const;

  private:
    std::int64_t in_ = 0, out_ = 0;
    std::vector<float> w_, b_;
    model::dense_activation act_ = model::dense_activation::identity;
};

}  // namespace engine
POLYGLOT_END_NAMESPACE
