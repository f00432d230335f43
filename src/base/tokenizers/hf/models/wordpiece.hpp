// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: the WordPiece model (greedy longest-match-first,
/// BERT).
#pragma once

#include <memory>
#include <string>

#include "base/tokenizers/hf/models/model.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

struct wordpiece_model : model_base {
    string_table vocab;
    std::size_t id_bound = 0;
    std::string unk_token = "[UNK]";
    std::string prefix = "##";
    std::size_t max_chars = 100;

    [[nodiscard]] std::optional<token_id> token_to_id(std::string_view t) const override {
        return vocab.find(t);
    }
    [[nodiscard]] std::size_t vocab_len() const override { return vocab.size(); }
    void for_each(const std::function<void(token_id, std::string_view)>& f) const override {
        for (std::size_t i = 0; i < vocab.size(); ++i) f(vocab.value_of(i), vocab.key_of(i));
    }
    token_id unk_id() const;
    void tokenize(std::string_view w, std::vector<token_id>& out, scratch&) const override;
};

/// The model of a `tokenizer.json` "model" object of this type.
std::unique_ptr<wordpiece_model> load_wordpiece(element model, const json_document& doc);

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
