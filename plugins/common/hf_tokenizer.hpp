// SPDX-License-Identifier: Apache-2.0
/// @file Hugging Face `tokenizer.json` (the `tokenizers` library's format), BPE models only:
/// byte-level BPE with a Split-regex pre-tokenizer (GPT-2, Llama 3, Qwen, OLMo) and
/// SentencePiece-style BPE with byte fallback (Gemma, Llama 2). Reproduces `tokenizers`'
/// pipeline: added tokens → normalizer → pre-tokenizer → BPE → post-processor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

using token_id = std::uint32_t;

class hf_tokenizer {
  public:
    /// Loads @p path: a model directory (its tokenizer.json) or a tokenizer.json file.
    /// Throws io_error / format_error, or unsupported_error for model types other than BPE and
    /// for normalizers / pre-tokenizers / post-processors this implementation does not have;
    /// every message names the file.
    static std::shared_ptr<const hf_tokenizer> load(const std::filesystem::path& path);
    ~hf_tokenizer();
    hf_tokenizer(const hf_tokenizer&) = delete;
    hf_tokenizer& operator=(const hf_tokenizer&) = delete;

    struct encode_options {
        /// Apply the post-processor's template (e.g. prepend BOS), as `add_special_tokens=True`.
        bool add_special_tokens = false;
        /// Recognise special added tokens written in the text (the `tokenizers` default). When
        /// false their text is tokenized as ordinary text (`split_special_tokens=True`).
        bool parse_special = true;
    };
    /// Thread-safe.
    void encode(std::string_view text, std::vector<token_id>& out,
                const encode_options& opts) const;
    [[nodiscard]] std::vector<token_id> encode(std::string_view text,
                                               const encode_options& opts) const {
        std::vector<token_id> ids;
        encode(text, ids, opts);
        return ids;
    }

    /// Ids the post-processor puts before / after a single sequence.
    [[nodiscard]] const std::vector<token_id>& prefix_special() const noexcept;
    [[nodiscard]] const std::vector<token_id>& suffix_special() const noexcept;
    /// Size of the id space (max id + 1 over the vocabulary and the added tokens).
    [[nodiscard]] std::size_t vocab_size() const noexcept;
    [[nodiscard]] std::optional<token_id> token_to_id(std::string_view token) const;
    /// The token's string as stored (byte-level or ▁ form), "" for an unknown id.
    [[nodiscard]] std::string id_to_token(token_id id) const;
    [[nodiscard]] const std::filesystem::path& path() const noexcept;

    struct impl;

  private:
    explicit hf_tokenizer(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace model
POLYGLOT_END_NAMESPACE
