// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: the BPE model (byte-level or not, with byte
/// fallback, unk fusing, continuing-subword prefix and end-of-word suffix, ignore_merges).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>

#include "base/tokenizers/hf/models/model.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

struct bpe_model : model_base {
    string_table vocab;      ///< model-space strings (byte-level characters or ▁ form)
    string_table raw_vocab;  ///< raw bytes → id (byte-level tokens), when raw
    u64_table merges;        ///< (a << 32 | b) → (rank << 32 | new id)
    std::size_t id_bound = 0;
    std::optional<token_id> unk;
    std::string unk_token;
    bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
    std::optional<std::string> continuing_prefix, end_suffix;
    std::array<std::optional<token_id>, 256> byte_fallback_ids;  ///< <0xXX>
    std::vector<std::int32_t> bmp_char_id;  ///< single-character tokens of the BMP, -1 none
    bool raw = false;                       ///< input is raw bytes (see byte_level_pre_tokenizer)
    std::array<std::int64_t, 256> raw_byte_id{};  ///< raw: id of each byte's character, -1 none
    /// raw: the merge of every pair of single-byte symbols (the first round of every word),
    /// dense (512 KiB) instead of a probe of the large merge table; ~0 none.
    std::vector<std::uint64_t> byte_pair;
    /// Splitting long words before a ▁ run is exact when no token spans such a boundary: the
    /// characters that do precede ▁ inside some token (Gemma 3: '>' of ">▁</").
    bool meta_split = false;
    std::vector<char32_t> before_meta;

    [[nodiscard]] std::optional<token_id> token_to_id(std::string_view t) const override {
        return vocab.find(t);
    }
    [[nodiscard]] std::size_t vocab_len() const override { return vocab.size(); }
    void for_each(const std::function<void(token_id, std::string_view)>& f) const override {
        for (std::size_t i = 0; i < vocab.size(); ++i) f(vocab.value_of(i), vocab.key_of(i));
    }

    [[nodiscard]] const std::uint64_t* merge_of(token_id a, token_id b) const {
        return merges.find((std::uint64_t(a) << 32) | b);
    }

    /// Appends the symbols of one character of the word (Model::merge_word's loop body).
    void add_char(std::vector<bpe_sym>& syms, std::string_view s, std::size_t byte_len,
                  std::optional<std::pair<token_id, std::size_t>>& pending_unk,
                  std::optional<token_id> id) const;

    /// Word::merge_all on a short word, in place over ids[0..n) (the ids of the word's characters,
    /// or of its raw bytes when @p bytes is given: the first round then reads the dense
    /// byte-pair table); returns the new length. tiktoken's scan: repeatedly merges the leftmost
    /// pair of lowest rank. The same order as the heap of merge_all: a symbol only grows by
    /// absorbing its right neighbour, so a heap entry whose pair still yields its new id is
    /// never stale.
    std::size_t merge_ids(token_id* id, std::size_t n, const unsigned char* bytes) const;

    void merge_word(std::string_view w, std::vector<token_id>& out, scratch& sc) const;

    void merge_small(scratch& sc) const;
    static constexpr std::size_t small_word = 48;

    /// Word::merge_all: a min-heap of (rank, position); a popped entry whose pair no longer
    /// produces its new id is stale and skipped.
    void merge_all(scratch& sc) const;

    /// One word: the cache, then ignore_merges' whole-word lookup, then the merges.
    void tokenize_part(std::string_view w, std::vector<token_id>& out, scratch& sc,
                       bool whole_word) const;

    void tokenize(std::string_view w, std::vector<token_id>& out, scratch& sc) const override;

    /// Re-keys the vocabulary by raw bytes (byte-level BPE read without the character mapping).
    void enable_raw();
};

/// The model of a `tokenizer.json` "model" object of this type.
std::unique_ptr<bpe_model> load_bpe(element model, const json_document& doc);

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
