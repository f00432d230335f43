// SPDX-License-Identifier: Apache-2.0
// polyglot::cpu::make_hf_model: the cpu plugin's Hugging Face models, served by hf_runtime.
#include "hf_model.hpp"

#include <oneapi/tbb/task_arena.h>

#include <memory>
#include <polyglot/core/error.hpp>
#include <string>
#include <vector>

#include "engine/hf_runtime.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cpu {

namespace {

class hf_model final : public model {
  public:
    explicit hf_model(const model_request& r)
        : rt_(engine::hf_runtime::open(
              r.path,
              {.pooling = r.pooling, .max_tokens = r.max_tokens, .batch_tokens = r.batch_tokens})) {
        if (!r.dtype.empty() && r.dtype != "f32")
            throw unsupported_error("model '" + r.path.string() + "': dtype '" + r.dtype +
                                    "': the cpu engine computes in f32 only");
        if (r.threads > 0) arena_ = std::make_unique<oneapi::tbb::task_arena>(int(r.threads));
    }

    [[nodiscard]] bool supports(polyglot_op op) const override {
        return op == POLYGLOT_OP_EMBED || op == POLYGLOT_OP_TOKENIZE ||
               (op == POLYGLOT_OP_SCORE && rt_->can_score());
    }
    [[nodiscard]] std::string info_json() const override { return rt_->info_json(); }
    [[nodiscard]] std::uint32_t dim() const override { return std::uint32_t(rt_->dim()); }

    void embed(const text_batch_view& texts, float* out) const override {
        std::vector<std::string_view> v(texts.size());
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = texts[i];
        in_arena([&] { rt_->embed(v, out); });
    }

    void tokenize(std::string_view text, std::uint32_t flags,
                  std::vector<std::int32_t>& out) const override {
        auto ids = rt_->tokenizer().encode(
            text, {.add_special_tokens = (flags & POLYGLOT_TOKENIZE_ADD_SPECIAL) != 0});
        out.insert(out.end(), ids.begin(), ids.end());
    }

    void score(const text_batch_view& prompts, const text_batch_view& responses,
               polyglot_score_result* out) override {
        if (prompts.size() != responses.size())
            throw argument_error("score: prompts and responses differ in number");
        std::vector<std::string_view> p(prompts.size()), r(responses.size());
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = prompts[i], r[i] = responses[i];
        std::vector<engine::score_result> res;
        in_arena([&] { res = rt_->score(p, r); });
        for (std::size_t i = 0; i < res.size(); ++i)
            out[i] = polyglot_score_result{res[i].sum_nll, res[i].n_scored, res[i].prompt_tokens,
                                           res[i].response_tokens, res[i].truncated ? 1u : 0u};
    }

  private:
    template <class F>
    void in_arena(F&& f) const {
        if (arena_)
            arena_->execute(f);
        else
            f();
    }

    std::unique_ptr<engine::hf_runtime> rt_;
    std::unique_ptr<oneapi::tbb::task_arena> arena_;
};

}  // namespace

std::unique_ptr<model> make_hf_model(const model_request& request) {
    return std::make_unique<hf_model>(request);
}

}  // namespace cpu
POLYGLOT_END_NAMESPACE
