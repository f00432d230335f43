// SPDX-License-Identifier: Apache-2.0
/// @file The cpu backend's device part (runtime/device.hpp): a decoder-only transformer
/// (Llama, Qwen2, Qwen3, Gemma 3 text, EmbeddingGemma) in f32 with Eigen GEMMs scheduled by
/// TBB, over packed variable-length sequences, with a paged KV cache for decoding. Tensor names
/// and the RoPE setup come from runtime/weights.hpp (shared with the cuda backend).
///
/// Determinism: every sequence's values are bit-identical whatever else is in the batch and
/// whatever the thread count. Linear layers run as Eigen GEMMs over fixed tiles (weight rows in
/// blocks fixed by the weight's shape, tokens in blocks of a multiple of 4 columns: with the
/// token count a multiple of Eigen's nr = 4 every token column takes the same micro-kernel
/// path, so its result does not depend on its neighbours); attention, norms and pooling work
/// per sequence and per token; no reduction is split across threads. Cached passes (KV blocks)
/// compute attention one query at a time over the cached keys in position order, with fixed
/// accumulation orders, so a token's values also do not depend on how its sequence was split
/// into passes (prefill chunks, decode steps, recomputation after preemption).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/model_config.hpp"
#include "common/runtime/device.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace engine {

using token_id = runtime::token_id;

class transformer final : public runtime::device_model {
  public:
    struct options {
        bool need_lm_head = false;    ///< fail when the model has no output projection
        std::size_t threads = 0;      ///< 0 = TBB's default
        std::size_t pass_tokens = 0;  ///< tokens per forward pass; 0 = 4096
    };
    /// Loads config.json and the safetensors weights of @p dir (bf16 / f16 weights are widened
    /// to f32 at load).
    static std::unique_ptr<transformer> load(const std::filesystem::path& dir, const options& o);
    ~transformer() override;

    [[nodiscard]] const model::model_config& config() const noexcept override;
    [[nodiscard]] bool has_lm_head() const noexcept override;
    [[nodiscard]] std::string describe_json() const override;
    [[nodiscard]] std::size_t pass_tokens() const noexcept override;
    [[nodiscard]] std::size_t kv_block_tokens() const noexcept override { return block_tokens; }
    [[nodiscard]] std::size_t kv_bytes_per_token() const noexcept override;
    void kv_reserve(std::size_t blocks) override;
    void forward(std::span<const runtime::forward_seq> batch) override;
    void parallel_for(std::size_t n, const std::function<void(std::size_t)>& f) const override;

    [[nodiscard]] std::size_t parameter_count() const noexcept;
    /// Stored dtype of most weights ("f32", "bf16", "f16").
    [[nodiscard]] std::string weight_dtype() const;

    static constexpr std::size_t block_tokens = 16;  ///< tokens per KV-cache block

    struct weights;
    struct state;

  private:
    transformer(std::unique_ptr<weights> w, const options& o);
    void run(std::span<const runtime::forward_seq> batch);
    std::unique_ptr<weights> w_;
    std::unique_ptr<state> s_;
};

}  // namespace engine
POLYGLOT_END_NAMESPACE
