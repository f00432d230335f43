// SPDX-License-Identifier: Apache-2.0
/// @file Hugging Face `tokenizer.json` (the `tokenizers` library's format): encoding and decoding
/// with the ids and text of `tokenizers` 0.23 (the Rust library is the test oracle).
///
/// Pipeline as `tokenizers`: added tokens (one Aho–Corasick-style pass, leftmost-longest) →
/// normalizer → added tokens of the normalized text → pre-tokenizer → model (BPE, Unigram,
/// WordPiece) → post-processor; decoding: ids → tokens → decoder chain.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

using token_id = std::uint32_t;

/// hf_tokenizer::decode_options (at namespace scope so that it can be a default argument).
struct hf_decode_options {
    bool skip_special_tokens = false;
};

class hf_tokenizer {
  public:
    /// Loads @p path: a model directory (its tokenizer.json) or a tokenizer.json file.
    /// Throws io_error / format_error, or unsupported_error for components this implementation
    /// does not have; every message names the file.
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
    /// Appends the ids of @p text to @p out. Thread-safe. Invalid UTF-8 is read as
    /// `String::from_utf8_lossy` / a JavaScript TextDecoder reads it (U+FFFD per maximal
    /// invalid subpart), which is what a caller of `tokenizers` passes for such bytes.
    void encode(std::string_view text, std::vector<token_id>& out,
                const encode_options& opts) const;
    [[nodiscard]] std::vector<token_id> encode(std::string_view text,
                                               const encode_options& opts) const {
        std::vector<token_id> ids;
        encode(text, ids, opts);
        return ids;
    }

    using decode_options = hf_decode_options;
    /// = `tokenizer.decode(ids, skip_special_tokens)`; ids outside the vocabulary are skipped
    /// (as `tokenizers` does). Thread-safe.
    [[nodiscard]] std::string decode(std::span<const token_id> ids,
                                     const decode_options& opts = {}) const;
    /// Whether @p id is a special added token (skipped by skip_special_tokens).
    [[nodiscard]] bool is_special(token_id id) const noexcept;

    /// Incremental detokenizer (one per generated sequence): push ids one at a time, get the
    /// newly completed text; never emits half a UTF-8 character; the concatenation of
    /// everything emitted plus finish() equals the text that decode() gives for the pushed ids,
    /// with @p prompt_ids as context (decode(prompt + generated) less the prompt's own text, as
    /// vLLM's detokenizer does: Metaspace's leading-space rule and UTF-8 sequences split
    /// between prompt and generation come out right).
    class stream_decoder {
      public:
        stream_decoder(const hf_tokenizer& tok, decode_options opts,
                       std::span<const token_id> prompt_ids = {});
        ~stream_decoder();
        stream_decoder(stream_decoder&&) noexcept;
        stream_decoder& operator=(stream_decoder&&) noexcept;
        /// Newly completed text; valid until the next call.
        std::string_view push(token_id id);
        /// What is left (incomplete bytes as `tokenizers` renders them, i.e. U+FFFD).
        std::string finish();

        struct state;

      private:
        std::unique_ptr<state> s_;
    };

    /// Ids the post-processor puts before / after a single sequence.
    [[nodiscard]] const std::vector<token_id>& prefix_special() const noexcept;
    [[nodiscard]] const std::vector<token_id>& suffix_special() const noexcept;
    /// Size of the id space (max id + 1 over the vocabulary and the added tokens).
    [[nodiscard]] std::size_t vocab_size() const noexcept;
    [[nodiscard]] std::optional<token_id> token_to_id(std::string_view token) const;
    /// The token's string as `tokenizers`' id_to_token gives it (byte-level or ▁ form), "" for
    /// an unknown id.
    [[nodiscard]] std::string id_to_token(token_id id) const;
    [[nodiscard]] const std::filesystem::path& path() const noexcept;

    struct impl;

  private:
    explicit hf_tokenizer(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace model
POLYGLOT_END_NAMESPACE
