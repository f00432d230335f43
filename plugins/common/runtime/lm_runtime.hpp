// SPDX-License-Identifier: Apache-2.0
/// @file The shared model runtime: everything about serving a Hugging Face model directory
/// that is not device work, for every native backend (cpu, cuda, ...). The backend supplies a
/// device_model (runtime/device.hpp); this class decides tokenization and special tokens, the
/// SCORE truncation policy (common/truncation.hpp), what is scored, which models may score or
/// generate (bidirectional encoders may not), batch plans by token budget, KV-cache
/// bookkeeping (runtime/kv_pool.hpp) with prefix reuse, continuous batching, sampling
/// (runtime/sampler.hpp) and stopping.
///
/// Scheduling (score_ids and generate, on devices with a KV cache; generate's scheduler is
/// runtime/scheduler.hpp, score_ids' prefix planner runtime/prefix_planner.hpp): sequences wait in
/// input order; each forward pass carries at most pass_tokens tokens — first one token of every
/// decoding sequence, then prefill chunks of running sequences, then newly admitted ones —
/// and at most max_batch sequences. A sequence is admitted when the pool has blocks for it;
/// when a running sequence needs a block and none is free, the most recently admitted one is
/// preempted (its blocks freed, its tokens recomputed later). Because the device's outputs
/// depend only on a sequence's own tokens (the device contract), none of this changes any
/// result: what a sequence gets is the same alone, in a batch of 32, or with any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <polyglot/plugin/plugin.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include "common/runtime/device.hpp"
#include "common/runtime/sampler.hpp"
#include "common/runtime/special_tokens.hpp"
#include "common/st_modules.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

struct options {
    std::string pooling;             ///< EMBED: "mean" | "last" | "cls" | "max" | "" (model's)
    std::size_t max_tokens = 16384;  ///< SCORE / EMBED truncation
    std::size_t pass_tokens = 0;     ///< tokens per forward pass; 0 = the device's choice
    std::size_t kv_tokens = 0;       ///< KV-cache budget in tokens; 0 = default (see open)
    std::size_t max_batch = 0;       ///< sequences per pass when generating; 0 = 64
    bool parse_special = false;      ///< SCORE / EMBED: special tokens written in the text
    bool need_lm_head = false;       ///< fail at load when the model cannot SCORE
};

/// The runtime's keys of a plugin's `create` config JSON: "pooling", "max_tokens",
/// "batch_tokens" (→ pass_tokens), "kv_tokens", "max_batch", "parse_special"; other keys are
/// ignored. argument_error for a malformed config or a mistyped key.
options parse_options(std::string_view config_json);

/// Builds the device for the transformer in @p dir (the model directory, or the
/// sentence-transformers Transformer module's directory).
using device_factory =
    std::function<std::unique_ptr<device_model>(const std::filesystem::path& dir)>;

struct score_result {
    double sum_nll = 0;
    std::uint32_t n_scored = 0;
    std::uint32_t prompt_tokens = 0;
    std::uint32_t response_tokens = 0;
    bool truncated = false;
    std::vector<float> logprobs;  ///< per scored token (keep_logprobs only)
};

/// One GENERATE call's parameters (the token-level part of polyglot_generate_request).
struct generate_options {
    std::uint32_t max_new_tokens = 16;
    sampling_params sampling;
    std::uint64_t seed = 0;
    std::uint64_t first_index = 0;   ///< job-wide index of prompt 0 (seeds the RNGs)
    std::vector<std::string> stop;   ///< stop strings (not part of the text)
    std::vector<token_id> stop_ids;  ///< extra ids that end a sequence like EOS
    bool logprobs = false;
    bool ignore_eos = false;
    bool keep_special = false;  ///< keep special tokens in the text
    /// JSON schema the output must follow ("" = free): tokens are masked before sampling
    /// (src/base/json/schema), so the text is a complete document whenever
    /// max_new_tokens allows one.
    std::string json_schema;
};

struct generated {
    std::vector<token_id> ids;    ///< generated ids, the final EOS / stop id included
    std::vector<float> logprobs;  ///< log p of each id under the model (before sampling transforms)
    std::string text;             ///< the ids' text, without the EOS / stop id or stop string
    std::int32_t finish_reason = POLYGLOT_FINISH_NONE;
    std::uint32_t prompt_tokens = 0;
    bool failed = false;  ///< reported through the call context's item_failed
};

class lm_runtime {
  public:
    /// Opens @p dir: a Hugging Face model directory or a sentence-transformers directory.
    static std::unique_ptr<lm_runtime> open(const std::filesystem::path& dir, const options& opts,
                                            const device_factory& make_device);
    ~lm_runtime();

    [[nodiscard]] const model::hf_tokenizer& tokenizer() const noexcept { return *tok_; }
    [[nodiscard]] device_model& device() const noexcept { return *dev_; }
    [[nodiscard]] const special_tokens& specials() const noexcept { return special_; }
    /// Empty when the model can SCORE, else why not.
    [[nodiscard]] const std::string& cannot_score() const noexcept { return no_score_; }
    /// Empty when the model can GENERATE, else why not.
    [[nodiscard]] const std::string& cannot_generate() const noexcept { return no_generate_; }
    [[nodiscard]] std::size_t dim() const noexcept { return dim_; }
    [[nodiscard]] std::size_t vocab_size() const noexcept { return vocab_; }
    /// Longest sequence (prompt + generated) a call may hold.
    [[nodiscard]] std::size_t max_context() const noexcept { return max_context_; }
    /// Upper bound of the text bytes one generated token adds (incl. U+FFFD replacements).
    [[nodiscard]] std::size_t max_token_bytes() const noexcept { return max_token_bytes_; }
    /// "hf:DIR:mean"
    [[nodiscard]] std::string id() const;
    /// JSON object for report metadata (identity, dims, special tokens, limits, backend).
    [[nodiscard]] std::string info_json() const;

    /// TOKENIZE (thread-safe).
    [[nodiscard]] std::vector<token_id> tokenize(std::string_view text, bool add_special,
                                                 bool parse_special) const;
    /// DETOKENIZE (thread-safe); ids outside the vocabulary are skipped.
    [[nodiscard]] std::string detokenize(std::span<const token_id> ids, bool skip_special) const;
    /// EMBED ids: tokenized with special tokens, truncated on the right to the limit.
    [[nodiscard]] std::vector<token_id> embed_ids(std::string_view text) const;
    /// EMBED: texts.size() × dim() floats into @p out.
    void embed(std::span<const std::string_view> texts, float* out,
               const plugin_sdk::call_context& ctx = {});
    /// SCORE (perplexity, product.md §3): ids = tokenize(prompt, specials) + tokenize(response);
    /// truncated by model::truncate_pair to max_tokens; log-probs of the response tokens.
    std::vector<score_result> score(std::span<const std::string_view> prompts,
                                    std::span<const std::string_view> responses,
                                    const plugin_sdk::call_context& ctx = {},
                                    bool keep_logprobs = false);
    /// SCORE_IDS (polyglot_score_ids_request): sequence i's log-probs at p >= max(from[i], 1)
    /// into logprobs[i][p] (and greedy[i][p] when @p greedy is not empty); other entries are
    /// left alone. Sequences sharing a prefix compute it once. Ids outside the vocabulary and
    /// sequences longer than max_context() are item failures.
    void score_ids(std::span<const std::span<const std::int32_t>> seqs,
                   std::span<const std::size_t> score_from, std::span<float* const> logprobs,
                   std::span<std::uint8_t* const> greedy, const plugin_sdk::call_context& ctx = {});
    /// GENERATE from token-id prompts. Failed items (empty prompt, ids outside the vocabulary,
    /// a prompt that leaves no room in the context) are reported through ctx.item_failed and
    /// marked `failed`.
    std::vector<generated> generate(std::span<const std::vector<token_id>> prompts,
                                    const generate_options& opts,
                                    const plugin_sdk::call_context& ctx = {});

    struct impl;

  private:
    lm_runtime();
    std::unique_ptr<impl> p_;
    std::shared_ptr<const model::hf_tokenizer> tok_;
    std::unique_ptr<device_model> dev_;
    special_tokens special_;
    std::string no_score_, no_generate_;
    std::size_t dim_ = 0, vocab_ = 0, max_context_ = 0, max_token_bytes_ = 0;
};

/// The plugin_sdk::model of a runtime (every ABI 1.1 operation), for a backend's `create`.
std::unique_ptr<plugin_sdk::model> make_plugin_model(std::unique_ptr<lm_runtime> rt);

}  // namespace runtime
POLYGLOT_END_NAMESPACE
