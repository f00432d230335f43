// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: the normalizers of `tokenizer.json` (NFC, NFD,
/// NFKC, NFKD, Lowercase, Replace, Prepend, Strip, StripAccents, Nmt, ByteLevel, BertNormalizer,
/// Precompiled, Sequence).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/tokenizers/hf/pipeline.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

struct normalizer {
    virtual ~normalizer() = default;
    /// Normalizes @p s in place (@p tmp is scratch).
    virtual void apply(std::string& s, std::string& tmp) const = 0;
};

/// The normalizer of a `tokenizer.json` "normalizer" object.
std::unique_ptr<normalizer> make_normalizer(element e, const std::filesystem::path& file);

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
