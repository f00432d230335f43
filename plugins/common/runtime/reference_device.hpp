// SPDX-License-Identifier: Apache-2.0
/// @file A plain reference forward pass for the backends' known-answer self-test
/// (runtime/self_test.hpp): the decoder of a Hugging Face model (Llama, Qwen2, Qwen3, Gemma 3
/// text, EmbeddingGemma) computed one sequence at a time in double precision, written from the
/// definitions of transformers' modeling code — embeddings, RMSNorm, q/k norms, rotate-half
/// RoPE, a softmax over the visible keys of each query, the gated MLP, soft-capping — with no
/// tiling, packing, online softmax or cache. It is checked against transformers' own outputs
/// (the fixtures' expected.json, tests/engine/reference_test.cpp), so a backend that agrees
/// with it agrees with Hugging Face.
///
/// Slow by design (O(n²) attention in scalar double loops, weights held as doubles): meant for
/// the tiny self-test and fixture models, not for real ones.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <vector>

#include "common/model_config.hpp"
#include "common/runtime/device.hpp"
#include "common/safetensors.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

class reference_device final : public device_model {
  public:
    /// The transformer in @p dir (config.json + safetensors).
    static std::unique_ptr<reference_device> load(const std::filesystem::path& dir);
    /// The transformer described by @p cfg with the weights in @p ws. @p storage other than
    /// f64 models a 16-bit engine: the values such an engine stores between its steps (norm
    /// outputs, q/k/v after RoPE, attention probabilities and outputs, projection and MLP
    /// outputs, the final hidden states) are rounded to bf16 / f16; all arithmetic stays
    /// double. Used to state the self-test's 16-bit tolerances (tests/engine/self_test_test.cpp).
    static std::unique_ptr<reference_device> create(const model::model_config& cfg,
                                                    const model::weight_set& ws,
                                                    model::dtype storage = model::dtype::f64);
    ~reference_device() override;

    /// What one sequence computes: per row, the final-normed hidden state and the logits of
    /// the next token (after final soft-capping; empty without an output projection).
    struct sequence_output {
        std::size_t rows = 0;
        std::vector<double> hidden;  ///< rows × hidden_size
        std::vector<double> logits;  ///< rows × vocab_size
        /// log softmax(logits[row])[t]
        [[nodiscard]] double logprob(std::size_t row, std::size_t t) const;
        /// log sum exp(logits[row])
        [[nodiscard]] double log_sum_exp(std::size_t row) const;
    };
    [[nodiscard]] sequence_output run(std::span<const token_id> ids) const;

    [[nodiscard]] const model::model_config& config() const noexcept override;
    [[nodiscard]] bool has_lm_head() const noexcept override;
    [[nodiscard]] std::string describe_json() const override;
    [[nodiscard]] std::size_t pass_tokens() const noexcept override { return 4096; }
    /// Whole sequences only (no KV cache): every output kind (log-probs, greedy flags, full
    /// logits, pooled states).
    void forward(std::span<const forward_seq> batch) override;

    struct weights;

  private:
    explicit reference_device(std::unique_ptr<weights> w);
    std::unique_ptr<weights> w_;
};

}  // namespace runtime
POLYGLOT_END_NAMESPACE
