// SPDX-License-Identifier: Apache-2.0
/// @file The cuda plugin's decoder-only transformer (Llama, Qwen2, Qwen3, Gemma 3 text): weights
/// on the device in the compute type (bf16 / f16 as stored, f32 for f32 models), one packed
/// variable-length prefill per batch, cuBLAS GEMMs with f32 accumulation, fused kernels
/// (kernels.hpp) for norms, RoPE, attention and activations, and log-probs computed only at the
/// requested positions, in chunks of positions.
///
/// Config and weights come from the shared loaders (plugins/common: model_config, safetensors,
/// runtime/weights.hpp); the numerics follow the cpu engine (plugins/cpu/engine/transformer.cpp).
/// Everything that is not device work (tokenization, truncation, pooling modules, batching) is
/// the shared runtime's (plugins/common/runtime/lm_runtime.hpp).
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
#include "common/runtime/device.hpp"
#include "common/safetensors.hpp"
#include "kernels.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cuda {

struct load_options {
    std::string dtype;             ///< "" = as stored (bf16/f16, else f32) | "f32" | "f16" | "bf16"
    int device = 0;                ///< CUDA device ordinal
    std::size_t batch_tokens = 0;  ///< token budget per batch; 0 = from free device memory
    bool need_lm_head = false;     ///< fail when the model has no output projection
    std::size_t threads = 0;       ///< host threads for the runtime's work; 0 = all cores
    /// f32 models: cuBLAS TF32 tensor-core GEMMs (config "tf32": true); off = the parity path.
    bool tf32 = false;
    /// bf16 / f16 models: attention on tensor cores (config "attention": "tensor_cores", the
    /// default) or on CUDA cores ("cuda_cores"; f32 models always use CUDA cores).
    bool tensor_cores = true;
};

/// The cuda backend's device part (runtime/device.hpp). No KV cache yet: every pass holds
/// whole sequences; outputs are log-probs (with greedy flags) of given targets, full logits
/// rows and pooled states.
class transformer final : public runtime::device_model {
  public:
    static std::unique_ptr<transformer> load(const std::filesystem::path& dir,
                                             const load_options& opts);
    /// The transformer described by @p config with the weights in @p ws (the self-test's
    /// in-memory models).
    static std::unique_ptr<transformer> create(const model::model_config& config,
                                               const model::weight_set& ws,
                                               const load_options& opts);
    ~transformer() override;
    transformer(const transformer&) = delete;
    transformer& operator=(const transformer&) = delete;

    [[nodiscard]] const model::model_config& config() const noexcept override;
    [[nodiscard]] bool has_lm_head() const noexcept override;
    [[nodiscard]] std::string describe_json() const override;
    [[nodiscard]] std::size_t pass_tokens() const noexcept override { return token_budget(); }
    /// Runs one packed forward pass over @p batch (its token count should stay within
    /// token_budget(); a longer single sequence still runs). Empty sequences are skipped (their
    /// pooled output is zero). Throws status_error on device failures, argument_error on ids
    /// outside the vocabulary.
    void forward(std::span<const runtime::forward_seq> batch) override;
    /// Host work (tokenization) on up to load_options::threads std::threads.
    void parallel_for(std::size_t n, const std::function<void(std::size_t)>& f) const override;

    [[nodiscard]] elem_type compute_type() const noexcept;
    [[nodiscard]] std::size_t parameter_count() const noexcept;
    /// Tokens per packed batch (from batch_tokens or the free memory after loading).
    [[nodiscard]] std::size_t token_budget() const noexcept;
    [[nodiscard]] int device() const noexcept;
    /// Records the verdict of the self-test run for this model (describe_json's "self_test").
    void set_self_test(std::string verdict);

    struct impl;

  private:
    explicit transformer(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace cuda
POLYGLOT_END_NAMESPACE
