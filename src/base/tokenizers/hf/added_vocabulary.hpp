// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: the added tokens of `tokenizer.json`
/// (AddedVocabulary): their ids, and the tries that find them in raw and normalized text.
#pragma once

#include <string>
#include <vector>

#include "base/json/util.hpp"
#include "base/tokenizers/hf/pipeline.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

struct added_token {
    std::string content;
    token_id id = 0;
    bool special = false, normalized = true, lstrip = false, rstrip = false, single_word = false;
};

/// Reads the "added_tokens" array into m.added and m.added_by_content: a content already in the
/// vocabulary keeps that id, a new one takes the next id after the model's.
void read_added_tokens(element at, const json_document& doc, hf_tokenizer::impl& m);

/// Fills m.raw_trie and m.norm_trie; returns each added token's pattern (its normalized form
/// when it is normalized), by index in m.added.
std::vector<std::string> index_added_tokens(hf_tokenizer::impl& m);

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
