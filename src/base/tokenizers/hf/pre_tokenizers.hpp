// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: the pre-tokenizers of `tokenizer.json` (Split,
/// ByteLevel, Metaspace, Digits, WhitespaceSplit, Whitespace, BertPreTokenizer, Punctuation,
/// CharDelimiterSplit, UnicodeScripts, Sequence).
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "base/tokenizers/hf/pipeline.hpp"
#include "base/tokenizers/hf/regex.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

struct pre_tokenizer {
    virtual ~pre_tokenizer() = default;
    /// Splits @p pieces (views of sc.arena) further, in place; may append text to the arena.
    virtual void apply(scratch& sc, std::vector<piece>& pieces) const = 0;
};

struct byte_level_pre_tokenizer : pre_tokenizer {
    bool add_prefix_space = true;
    std::unique_ptr<tok_regex> re;  ///< GPT-2's pattern when use_regex
    /// The model reads raw bytes (set at load when this is the last step before a BPE model):
    /// the byte → character mapping is then left to the model's re-keyed vocabulary.
    bool raw = false;
    void apply(scratch& sc, std::vector<piece>& pieces) const override;
};

/// The pre-tokenizer of a `tokenizer.json` "pre_tokenizer" object.
std::unique_ptr<pre_tokenizer> make_pre_tokenizer(element e, const std::filesystem::path& file);

/// The last step of a pre-tokenizer chain when it is ByteLevel.
byte_level_pre_tokenizer* last_byte_level(pre_tokenizer* p);

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
