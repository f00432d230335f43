// SPDX-License-Identifier: Apache-2.0
// text::tokenizer over model::hf_tokenizer, for libpolyglot's open_tokenizer("DIR") (exported
// from libpolyglot: POLYGLOT_API in include/polyglot/text/hf_tokenizer.hpp).
#include <polyglot/text/hf_tokenizer.hpp>

#include "base/tokenizers/hf/hf_tokenizer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text {

namespace {

class hf_text_tokenizer final : public tokenizer {
  public:
    hf_text_tokenizer(std::shared_ptr<const model::hf_tokenizer> t, std::string name)
        : tok_(std::move(t)), name_(std::move(name)) {}
    [[nodiscard]] std::string name() const override { return name_; }
    void encode(std::string_view text, std::vector<token_id>& out) const override {
        tok_->encode(text, out, {.add_special_tokens = false, .parse_special = false});
    }

  private:
    std::shared_ptr<const model::hf_tokenizer> tok_;
    std::string name_;
};

}  // namespace

std::shared_ptr<const tokenizer> open_hf_tokenizer(const std::filesystem::path& path) {
    auto t = model::hf_tokenizer::load(path);
    return std::make_shared<hf_text_tokenizer>(std::move(t), "hf:" + path.string());
}

}  // namespace text
POLYGLOT_END_NAMESPACE
