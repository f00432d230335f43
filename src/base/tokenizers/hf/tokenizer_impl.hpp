// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: hf_tokenizer::impl, the loaded pipeline (model,
/// normalizer, pre-tokenizer, decoder, post-processor ids) and the added vocabulary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/tokenizers/hf/added_vocabulary.hpp"
#include "base/tokenizers/hf/decoders.hpp"
#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include "base/tokenizers/hf/models/model.hpp"
#include "base/tokenizers/hf/normalizers.hpp"
#include "base/tokenizers/hf/pipeline.hpp"
#include "base/tokenizers/hf/pre_tokenizers.hpp"
#include "base/tokenizers/hf/tables.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

struct hf_tokenizer::impl {
    std::filesystem::path file;
    std::unique_ptr<detail::model_base> model;
    std::unique_ptr<detail::normalizer> norm;
    std::unique_ptr<detail::pre_tokenizer> pre;
    std::unique_ptr<detail::decoder_config> decoder;
    std::vector<token_id> prefix, suffix;

    std::vector<detail::added_token>
        added;  ///< by id order of insertion (added_tokens_map_r values)
    detail::string_table added_by_content;  ///< content → id
    detail::byte_trie raw_trie, norm_trie;  ///< pattern → index into added
    std::vector<std::string> id_tokens;     ///< id → token (id_to_token), with known[]
    std::vector<std::uint8_t> known, special_id;
    std::size_t id_space = 0;

    /// AddedVocabulary::find_matches over @p s with @p trie; segments of text or token ids.
    void find_added(std::string_view s, const detail::byte_trie& trie, bool parse_special,
                    std::vector<detail::segment>& out) const;

    /// Pre-tokenizes @p s and runs the model over each piece.
    void encode_text(std::string_view s, bool at_start, detail::scratch& sc,
                     std::vector<token_id>& out) const;
};

}  // namespace model
POLYGLOT_END_NAMESPACE
