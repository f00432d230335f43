// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: the Unigram model (SentencePiece's Viterbi over a
/// trie of pieces).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "base/tokenizers/hf/models/model.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

struct unigram_model : model_base {
    std::vector<std::pair<std::string, double>> pieces;
    string_table token_to_ids;
    byte_trie trie;  ///< piece → id (the id token_to_ids gives for it)
    double min_score = 0;
    std::optional<std::size_t> unk_id;
    bool byte_fallback = false;

    [[nodiscard]] std::optional<token_id> token_to_id(std::string_view t) const override {
        return token_to_ids.find(t);
    }
    [[nodiscard]] std::size_t vocab_len() const override { return pieces.size(); }
    void for_each(const std::function<void(token_id, std::string_view)>& f) const override {
        for (std::size_t i = 0; i < pieces.size(); ++i) f(token_id(i), pieces[i].first);
    }

    struct node {
        std::size_t id = 0;
        double score = 0;
        std::int64_t starts_at = -1;
    };

    void encode_word(std::string_view s, std::vector<token_id>& out) const;

    void tokenize(std::string_view w, std::vector<token_id>& out, scratch& sc) const override {
        if (w.empty()) return;
        cached(w, out, sc, [&](std::vector<token_id>& o) { encode_word(w, o); });
    }
};

/// The model of a `tokenizer.json` "model" object of this type.
std::unique_ptr<unigram_model> load_unigram(element model, const json_document& doc);

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
