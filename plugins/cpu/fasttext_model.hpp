// SPDX-License-Identifier: Apache-2.0
/// @file fastText `.bin` / `.ftz` models in the cpu plugin: EMBED (fastText sentence vectors,
/// exactly FastText::getSentenceVector) and TOKENIZE (dictionary word ids).
#pragma once

#include <filesystem>
#include <memory>

#include "model.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cpu {

/// True when @p path starts with fastText's model magic (any fastText model version).
bool is_fasttext_file(const std::filesystem::path& path);

/// Loads a fastText model. Throws io_error (unreadable) or format_error (not a fastText model,
/// unsupported version, truncated) naming the file.
std::unique_ptr<model> make_fasttext_model(const model_request& request);

}  // namespace cpu
POLYGLOT_END_NAMESPACE
