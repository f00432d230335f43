// SPDX-License-Identifier: Apache-2.0
/// @file The cpu backend's device part (runtime/device.hpp): a decoder-only transformer
/// (Llama, Qwen2, Qwen3, Gemma 3 text, EmbeddingGemma) computing in f32 on the vector kernels
/// of common/cpu_kernels (the CPU's best path, chosen at load) scheduled by TBB, over packed
/// variable-length sequences, with a paged KV cache for decoding. Weights stay in their
/// checkpoint dtype (f32, bf16, f16), read in place from the mapped safetensors files. Tensor
/// names and the RoPE setup come from runtime/weights.hpp (shared with the cuda backend).
///
/// Determinism: every sequence's values are bit-identical whatever else is in the batch and
/// whatever the thread count. The kernels compute each output element with one fixed sequence
/// of operations that depends only on that element's inputs (cpu_kernels/kernels.hpp), so no
/// tiling or thread split can change a value; no reduction is split across threads. Attention
/// runs per query over its keys in position order, from KV blocks for cached and uncached
/// sequences alike, so a token's values also do not depend on how its sequence was split into
/// passes (prefill chunks, decode steps, recomputation after preemption). Each vector path
/// (SSE2, AVX2, AVX-512) rounds in its own way; a process uses one.
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
#include "common/safetensors.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace engine {

using token_id = runtime::token_id;

class transformer final : public runtime::device_model {
  public:
    struct options {
        bool need_lm_head = false;    ///< fail when the model has no output projection
        std::size_t threads = 0;      ///< 0 = TBB's default
        std::size_t pass_tokens = 0;  ///< tokens per forward pass; 0 = 1024
    };
    /// Loads config.json and the safetensors weights of @p dir (bf16 / f16 weights are widened
    /// to f32 at load).
    static std::unique_ptr<transformer> load(const std::filesystem::path& dir, const options& o);
    /// The model of @p config over weights already open (@p ws is shared, not copied: the
    /// engine keeps it alive and reads the weights in place).
    static std::unique_ptr<transformer> create(const model::model_config& config,
                                               const model::weight_set& ws, const options& o);
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

    /// The verdict of the known-answer self-test run at load (runtime/self_test.hpp), carried
    /// in describe_json() as "self_test" and from there into reports.
    void set_self_test(std::string verdict);

    [[nodiscard]] std::size_t parameter_count() const noexcept;
    /// Stored dtype of most weights ("f32", "bf16", "f16").
    [[nodiscard]] std::string weight_dtype() const;
    [[nodiscard]] model::dtype stored_dtype() const noexcept;

    static constexpr std::size_t block_tokens = 16;  ///< tokens per KV-cache block

    struct weights;
    struct state;

  private:
    transformer(std::unique_ptr<weights> w, const options& o);
    void run(std::span<const runtime::forward_seq> batch);
    std::unique_ptr<weights> w_;
    std::unique_ptr<state> s_;
    std::string self_test_;
};

}  // namespace engine
POLYGLOT_END_NAMESPACE
