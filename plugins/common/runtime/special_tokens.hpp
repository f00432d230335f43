// SPDX-License-Identifier: Apache-2.0
/// @file A model's special tokens for generation: the EOS ids generation stops at and the BOS
/// id, from `generation_config.json` (what transformers' generate() uses), falling back to
/// `config.json` and then to the tokenizer's `tokenizer_config.json` token names.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <polyglot/version.hpp>
#include <vector>

#include "base/tokenizers/hf/hf_tokenizer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

struct special_tokens {
    std::vector<model::token_id> eos;  ///< sorted, unique; may be empty
    std::optional<model::token_id> bos;
    std::filesystem::path eos_source;  ///< the file the EOS ids came from ("" = none)
};

/// Reads @p dir's generation_config.json, else config.json (top level, then text_config), else
/// tokenizer_config.json's "eos_token"/"bos_token" names looked up in @p tok. `eos_token_id`
/// may be an integer or a list of integers; anything else (a string, a negative number, an id
/// outside @p vocab_size, a malformed file) is a format_error naming the file and the key.
special_tokens load_special_tokens(const std::filesystem::path& dir, const model::hf_tokenizer& tok,
                                   std::size_t vocab_size);

}  // namespace runtime
POLYGLOT_END_NAMESPACE
