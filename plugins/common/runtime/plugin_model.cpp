// SPDX-License-Identifier: Apache-2.0
// runtime::make_plugin_model: the ABI operations (plugin_sdk::model) of an lm_runtime, so that
// every native backend answers them the same way.
#include <algorithm>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <string>
#include <vector>

#include "common/runtime/lm_runtime.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {
namespace {

using plugin_sdk::call_context;
using plugin_sdk::id_batch_view;
using plugin_sdk::status_error;
using plugin_sdk::text_batch_view;

std::vector<std::string_view> views(const text_batch_view& b) {
    std::vector<std::string_view> v(b.size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = b[i];
    return v;
}

class runtime_model final : public plugin_sdk::model {
  public:
    explicit runtime_model(std::unique_ptr<lm_runtime> rt) : rt_(std::move(rt)) {}

    [[nodiscard]] bool supports(polyglot_op op) const override {
        switch (op) {
            case POLYGLOT_OP_EMBED:
            case POLYGLOT_OP_TOKENIZE:
            case POLYGLOT_OP_DETOKENIZE:
                return true;
            case POLYGLOT_OP_SCORE:
            case POLYGLOT_OP_SCORE_IDS:
                return rt_->cannot_score().empty();
            case POLYGLOT_OP_GENERATE:
            case POLYGLOT_OP_JSON_SCHEMA:
                return rt_->cannot_generate().empty();
            default:
                return false;
        }
    }
    [[nodiscard]] std::string info_json() const override { return rt_->info_json(); }
    [[nodiscard]] std::uint32_t dim() const override { return std::uint32_t(rt_->dim()); }

    void embed(const text_batch_view& texts, float* out) const override {
        embed_batch(texts, out, call_context());
    }
    void embed_batch(const text_batch_view& texts, float* out,
                     const call_context& ctx) const override {
        const auto v = views(texts);
        rt_->embed(v, out, ctx);
    }
    void tokenize(std::string_view text, std::uint32_t flags,
                  std::vector<std::int32_t>& out) const override {
        const auto ids = rt_->tokenize(text, (flags & POLYGLOT_TOKENIZE_ADD_SPECIAL) != 0,
                                       (flags & POLYGLOT_TOKENIZE_PARSE_SPECIAL) != 0);
        for (auto id : ids) out.push_back(std::int32_t(id));
    }
    void detokenize(std::span<const std::int32_t> ids, std::uint32_t flags,
                    std::string& out) const override {
        std::vector<token_id> v;
        v.reserve(ids.size());
        for (auto id : ids)
            if (id >= 0) v.push_back(token_id(id));
        out += rt_->detokenize(v, (flags & POLYGLOT_DETOKENIZE_SKIP_SPECIAL) != 0);
    }
    void score(const text_batch_view& prompts, const text_batch_view& responses,
               polyglot_score_result* out) override {
        score_batch(prompts, responses, out, call_context());
    }
    void score_batch(const text_batch_view& prompts, const text_batch_view& responses,
                     polyglot_score_result* out, const call_context& ctx) override {
        if (prompts.size() != responses.size())
            throw argument_error("score: prompts and responses differ in number");
        const auto p = views(prompts), r = views(responses);
        const auto res = rt_->score(p, r, ctx);
        for (std::size_t i = 0; i < res.size(); ++i)
            out[i] = polyglot_score_result{res[i].sum_nll, res[i].n_scored, res[i].prompt_tokens,
                                           res[i].response_tokens, res[i].truncated ? 1u : 0u};
    }
    void score_ids(const id_batch_view& seqs, const std::uint64_t* score_from, float* logprobs,
                   std::uint8_t* greedy, const call_context& ctx) override {
        const std::size_t n = seqs.size();
        std::vector<std::span<const std::int32_t>> s(n);
        std::vector<std::size_t> from(n);
        std::vector<float*> lp(n);
        std::vector<std::uint8_t*> g(greedy ? n : 0);
        for (std::size_t i = 0; i < n; ++i) {
            s[i] = seqs[i];
            from[i] = std::size_t(std::min<std::uint64_t>(score_from[i], SIZE_MAX));
            lp[i] = logprobs + seqs.offset(i);
            if (greedy) g[i] = greedy + seqs.offset(i);
        }
        rt_->score_ids(s, from, lp, g, ctx);
    }
    void generate(const plugin_sdk::generate_call& call, polyglot_generation* items,
                  const call_context& ctx) override {
        const auto& r = call.raw;
        if (call.prompt_kind == POLYGLOT_PROMPT_MESSAGES)
            throw status_error(POLYGLOT_STATUS_UNSUPPORTED,
                               "generate: chat messages are rendered by the host (the generator "
                               "service) and sent as text");
        if (r.reserved != 0)
            throw status_error(POLYGLOT_STATUS_INVALID_ARGUMENT, "generate: reserved must be 0");
        generate_options o;
        o.json_schema = std::string(call.json_schema);
        o.max_new_tokens = r.max_new_tokens;
        o.sampling = sampling_of(r);
        o.seed = r.seed;
        o.first_index = r.first_index;
        o.stop.assign(call.stop.begin(), call.stop.end());
        for (auto id : call.stop_ids) {
            if (id < 0 || std::size_t(id) >= rt_->vocab_size())
                throw status_error(
                    POLYGLOT_STATUS_INVALID_ARGUMENT,
                    "generate: stop id " + std::to_string(id) + " is outside the vocabulary");
            o.stop_ids.push_back(token_id(id));
        }
        o.logprobs = (r.flags & POLYGLOT_GENERATE_LOGPROBS) != 0;
        o.ignore_eos = (r.flags & POLYGLOT_GENERATE_IGNORE_EOS) != 0;
        o.keep_special = (r.flags & POLYGLOT_GENERATE_KEEP_SPECIAL) != 0;

        const std::size_t n = call.size();
        std::vector<std::vector<token_id>> prompts(n);
        if (call.prompt_kind == POLYGLOT_PROMPT_TEXT) {
            const bool add = (r.flags & POLYGLOT_GENERATE_ADD_SPECIAL) != 0;
            const bool parse = (r.flags & POLYGLOT_GENERATE_PARSE_SPECIAL) != 0;
            rt_->device().parallel_for(
                n, [&](std::size_t i) { prompts[i] = rt_->tokenize(call.prompts[i], add, parse); });
        } else {
            for (std::size_t i = 0; i < n; ++i)
                for (auto id : call.prompt_ids[i])
                    // A negative id becomes one outside the vocabulary: an item failure.
                    prompts[i].push_back(id < 0 ? token_id(rt_->vocab_size()) : token_id(id));
        }
        const auto res = rt_->generate(prompts, o, ctx);
        for (std::size_t i = 0; i < n; ++i) {
            polyglot_generation& it = items[i];
            const generated& g = res[i];
            it.prompt_tokens = g.prompt_tokens;
            if (g.failed) {
                it.status = POLYGLOT_STATUS_INVALID_ARGUMENT;
                continue;
            }
            if (g.finish_reason == POLYGLOT_FINISH_NONE) {  // the call was cancelled first
                it.status = POLYGLOT_STATUS_CANCELLED;
                continue;
            }
            const std::size_t k = std::min<std::size_t>(g.ids.size(), it.ids_cap);
            for (std::size_t j = 0; j < k; ++j) it.ids[j] = std::int32_t(g.ids[j]);
            it.n_ids = std::uint32_t(k);
            if (it.logprobs && o.logprobs)
                std::copy_n(g.logprobs.begin(), std::min(k, g.logprobs.size()), it.logprobs);
            it.finish_reason = g.finish_reason;
            it.text_len = g.text.size();
            if (g.text.size() > it.text_cap)
                it.status = POLYGLOT_STATUS_BUFFER_TOO_SMALL;
            else if (!g.text.empty())
                std::memcpy(it.text, g.text.data(), g.text.size());
        }
    }

  private:
    std::unique_ptr<lm_runtime> rt_;
};

}  // namespace

std::unique_ptr<plugin_sdk::model> make_plugin_model(std::unique_ptr<lm_runtime> rt) {
    return std::make_unique<runtime_model>(std::move(rt));
}

}  // namespace runtime
POLYGLOT_END_NAMESPACE
