// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer: the post-processors of `tokenizer.json`
/// (TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence), read into the
/// ids put before and after a single sequence.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "base/tokenizers/hf/pipeline.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

/// Sets @p m's prefix and suffix ids from a "post_processor" object.
void parse_post_processor(element e, hf_tokenizer::impl& m,
                          const std::function<std::optional<token_id>(std::string_view)>& id_of);

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
