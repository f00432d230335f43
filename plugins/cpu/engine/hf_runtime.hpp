// SPDX-License-Identifier: Apache-2.0
/// @file A Hugging Face model directory ready to use: tokenizer + transformer (+ the
/// sentence-transformers modules when the directory is one). SCORE and EMBED over batches of
/// texts, tokenized and packed into forward passes of at most `batch_tokens` tokens.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/hf_tokenizer.hpp"
#include "common/st_modules.hpp"
#include "engine/transformer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace engine {

struct score_result {
    double sum_nll = 0;          ///< Σ −log p over the scored response tokens (nats)
    std::uint32_t n_scored = 0;  ///< response tokens scored (a token at position 0 is not)
    std::uint32_t prompt_tokens = 0;
    std::uint32_t response_tokens = 0;
    bool truncated = false;
    std::vector<float> logprobs;  ///< per scored token (only when asked for)
};

class hf_runtime {
  public:
    struct options {
        std::string pooling;             ///< "mean" | "last" | "cls" | "max" | "" (default)
        std::size_t max_tokens = 16384;  ///< SCORE / EMBED truncation
        std::size_t batch_tokens = 0;    ///< tokens per forward pass; 0 = 4096
        bool need_lm_head = false;       ///< fail at load if the model cannot SCORE
    };
    /// @p dir: a Hugging Face model directory or a sentence-transformers directory.
    static std::unique_ptr<hf_runtime> open(const std::filesystem::path& dir, const options& opts);

    [[nodiscard]] const model::hf_tokenizer& tokenizer() const noexcept { return *tok_; }
    [[nodiscard]] const transformer& net() const noexcept { return *net_; }
    /// A causal LM with an output projection (a bidirectional encoder cannot score).
    [[nodiscard]] bool can_score() const noexcept {
        return net_->has_lm_head() && !net_->config().bidirectional;
    }
    /// Embedding dimension (after Dense modules).
    [[nodiscard]] std::size_t dim() const noexcept { return dim_; }
    /// "hf:DIR:mean"
    [[nodiscard]] std::string id() const;
    /// JSON object for report metadata.
    [[nodiscard]] std::string info_json() const;

    /// Tokenizes as `tokenizer(text)` (special tokens added), truncated to max_tokens (right).
    [[nodiscard]] std::vector<token_id> embed_ids(std::string_view text) const;
    /// texts.size() × dim() floats, row-major. Thread-safe.
    void embed(std::span<const std::string_view> texts, float* out) const;
    /// Per pair: ids = tokenizer(prompt) + tokenizer(response, no specials); log-probs of the
    /// response tokens. Inputs longer than max_tokens lose prompt tokens from the left (after
    /// the leading special tokens), then response tokens from the right. Thread-safe.
    [[nodiscard]] std::vector<score_result> score(std::span<const std::string_view> prompts,
                                                  std::span<const std::string_view> responses,
                                                  bool keep_logprobs = false) const;
    /// Greedy continuation of @p ids by @p n tokens (re-runs the prefill each step: no KV cache
    /// yet; for tests and small checks).
    [[nodiscard]] std::vector<token_id> greedy(std::vector<token_id> ids, std::size_t n) const;

  private:
    hf_runtime() = default;
    /// Runs @p reqs in forward passes of ≤ batch_tokens tokens, in order.
    void run_batched(std::vector<seq_request>& reqs) const;

    std::filesystem::path dir_;
    std::shared_ptr<const model::hf_tokenizer> tok_;
    std::unique_ptr<transformer> net_;
    std::optional<model::st_pipeline> st_;
    std::vector<dense_layer> dense_;
    model::pooling_mode pooling_ = model::pooling_mode::mean;
    bool normalize_ = false;
    std::size_t dim_ = 0;
    std::size_t max_tokens_ = 16384;
    std::size_t batch_tokens_ = 4096;
};

}  // namespace engine
POLYGLOT_END_NAMESPACE
