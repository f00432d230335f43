// SPDX-License-Identifier: Apache-2.0
/// @file A model served by vLLM, SGLang, TGI, llama.cpp's server, a hosted OpenAI-compatible
/// API or `polyglot serve`, as a plugin_sdk::model: TOKENIZE, DETOKENIZE, SCORE, SCORE_IDS,
/// EMBED and GENERATE over HTTP, with per-record failures, a resumable request journal and the
/// one SCORE truncation policy of plugins/common/truncation.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <polyglot/plugin/plugin.hpp>
#include <string>
#include <vector>

#include "dialect.hpp"
#include "http_client.hpp"
#include "journal.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {
class hf_tokenizer;
}
namespace remote {

/// The create() config, parsed.
struct remote_config {
    std::string spec;           ///< URL[#MODEL]
    std::string kind = "auto";  ///< vllm|sglang|tgi|llamacpp|openai|polyglot|auto
    std::string api_key_env = "OPENAI_API_KEY";
    client_options client;
    std::size_t max_tokens = 16384;  ///< SCORE truncation (before the server's own limit)
    bool parse_special = false;      ///< SCORE: recognise special tokens written in the text
    bool no_cache = false;
    std::filesystem::path journal_dir;  ///< "" = no journal
    std::filesystem::path tokenizer;    ///< local tokenizer directory ("" = the server's)
    std::size_t embed_batch = 16;       ///< texts per /v1/embeddings request
};
remote_config parse_config(std::string_view config_json);

class remote_model final : public plugin_sdk::model {
  public:
    explicit remote_model(remote_config cfg);
    ~remote_model() override;

    [[nodiscard]] bool supports(polyglot_op op) const override;
    [[nodiscard]] std::string info_json() const override;
    [[nodiscard]] std::uint32_t dim() const override;
    void embed(const plugin_sdk::text_batch_view& texts, float* out) const override;
    void embed_batch(const plugin_sdk::text_batch_view& texts, float* out,
                     const plugin_sdk::call_context& ctx) const override;
    void tokenize(std::string_view text, std::uint32_t flags,
                  std::vector<std::int32_t>& out) const override;
    void score(const plugin_sdk::text_batch_view& prompts,
               const plugin_sdk::text_batch_view& responses, polyglot_score_result* out) override;
    void score_batch(const plugin_sdk::text_batch_view& prompts,
                     const plugin_sdk::text_batch_view& responses, polyglot_score_result* out,
                     const plugin_sdk::call_context& ctx) override;
    void score_ids(const plugin_sdk::id_batch_view& seqs, const std::uint64_t* score_from,
                   float* logprobs, std::uint8_t* greedy,
                   const plugin_sdk::call_context& ctx) override;
    void detokenize(std::span<const std::int32_t> ids, std::uint32_t flags,
                    std::string& out) const override;
    void generate(const plugin_sdk::generate_call& call, polyglot_generation* items,
                  const plugin_sdk::call_context& ctx) override;

  private:
    /// Log-probs of id sequences (positions ≥ 1), from the journal or the server. For TGI
    /// @p texts holds the text each sequence must tokenize to. on_done(i, lp, greedy) or
    /// on_fail(i, reason) exactly once per sequence i.
    struct logprob_job {
        std::vector<std::int32_t> ids;
        std::string text;  ///< TGI only
    };
    void fetch_logprobs(std::vector<logprob_job>& jobs,
                        const std::function<void(std::size_t, const std::vector<double>&,
                                                 const std::vector<std::uint8_t>&)>& on_done,
                        const std::function<void(std::size_t, const std::string&)>& on_fail,
                        const plugin_sdk::call_context& ctx, std::uint64_t& tokens,
                        std::size_t done_before, std::size_t total);
    /// Server tokenization of many texts at once (concurrent requests).
    void tokenize_many(const std::vector<std::string_view>& texts, const std::vector<bool>& special,
                       std::vector<std::vector<std::int32_t>>& out,
                       std::vector<std::string>& errors, const plugin_sdk::call_context& ctx) const;
    /// Ids the server's or the local tokenizer's post-processor puts first (BOS).
    std::size_t special_prefix() const;
    /// SCORE's token limit: --max-tokens, and the server's context when it says.
    [[nodiscard]] std::size_t score_limit() const noexcept;
    [[nodiscard]] std::string refusal(polyglot_op op) const;
    void resolve();  // kind, model, context: asks the server

    remote_config cfg_;
    std::unique_ptr<http_client> client_;
    endpoints ep_;
    server_kind kind_ = server_kind::vllm;
    std::string model_;
    std::string display_;
    std::size_t max_model_len_ = 0;
    std::shared_ptr<const polyglot::model::hf_tokenizer> tok_;
    std::string tokenizer_id_ = "server";
    std::shared_ptr<journal> journal_;
    mutable std::mutex lazy_mutex_;
    mutable std::uint32_t dim_ = 0;
    mutable std::optional<std::size_t> prefix_;
    mutable std::atomic<std::uint64_t> cached_{0};
};

/// splitmix64-mixed per-sequence seed from (seed, index): a sequence's sampling never depends on
/// how a job is split into calls or batches.
std::uint64_t sequence_seed(std::uint64_t seed, std::uint64_t index) noexcept;

}  // namespace remote
POLYGLOT_END_NAMESPACE
