// SPDX-License-Identifier: Apache-2.0
/// @file Hugging Face tokenizers (`tokenizer.json`) behind the text::tokenizer interface.
#pragma once

#include <filesystem>
#include <memory>
#include <polyglot/core/export.hpp>
#include <polyglot/text/tokenizer.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

/// Opens @p path: a Hugging Face model directory or a `tokenizer.json`. encode() adds no
/// special tokens and treats special-token text as ordinary text (as the interface says);
/// name() is "hf:PATH". Throws io_error / format_error / unsupported_error naming the file.
POLYGLOT_API std::shared_ptr<const tokenizer> open_hf_tokenizer(
    const std::filesystem::path& path);

}  // namespace text
POLYGLOT_END_NAMESPACE
