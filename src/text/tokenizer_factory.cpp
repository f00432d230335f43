// SPDX-License-Identifier: Apache-2.0
#include <polyglot/core/error.hpp>
#include <polyglot/text/tokenizer.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

std::shared_ptr<const tokenizer> open_tokenizer(std::string_view spec) {
    throw unsupported_error("tokenizer '" + std::string(spec) + "': not available yet");
}

}  // namespace text
POLYGLOT_END_NAMESPACE
