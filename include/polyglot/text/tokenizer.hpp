// SPDX-License-Identifier: Apache-2.0
/// @file The tokenizer interface used by the length and lexical metrics and `polyglot tokenize`.
#pragma once

#include <polyglot/version.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

using token_id = std::uint32_t;

/// Immutable after construction; every member is thread-safe.
class tokenizer {
public:
    virtual ~tokenizer() = default;
    /// Identity for report metadata, e.g. "tiktoken:cl100k_base" or "hf:/path/to/model".
    [[nodiscard]] virtual std::string name() const = 0;
    /// Appends the ids of @p text (no special tokens added; special-token text is treated as
    /// ordinary text, as tiktoken's encode_ordinary).
    virtual void encode(std::string_view text, std::vector<token_id>& out) const = 0;
    /// Number of tokens of @p text (default: encode and count).
    [[nodiscard]] virtual std::size_t count(std::string_view text) const {
        std::vector<token_id> ids;
        encode(text, ids);
        return ids.size();
    }
};

/// Opens a tokenizer: "cl100k_base" / "o200k_base" (tiktoken tables from the data directory),
/// a path to a tiktoken table file, or a Hugging Face model directory / tokenizer.json.
/// Throws io_error / format_error naming the file.
std::shared_ptr<const tokenizer> open_tokenizer(std::string_view spec);

}  // namespace text
POLYGLOT_END_NAMESPACE
