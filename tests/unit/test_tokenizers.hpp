// SPDX-License-Identifier: Apache-2.0
// Tokenizers for metric tests whose token ids are known by construction.
#pragma once

#include <memory>
#include <polyglot/text/tokenizer.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace polyglot::testing {

/// One token per UTF-8 byte, id = byte value: token counts equal byte counts.
class byte_tokenizer final : public text::tokenizer {
  public:
    [[nodiscard]] std::string name() const override { return "test:bytes"; }
    void encode(std::string_view s, std::vector<text::token_id>& out) const override {
        for (unsigned char c : s) out.push_back(c);
    }
};

inline std::shared_ptr<const text::tokenizer> bytes() { return std::make_shared<byte_tokenizer>(); }

}  // namespace polyglot::testing
