// SPDX-License-Identifier: Apache-2.0
#include "engine/hf_runtime.hpp"

#include "common/truncation.hpp"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <polyglot/core/error.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace engine {

namespace {

const char* pooling_name(model::pooling_mode m) {
    switch (m) {
        case model::pooling_mode::mean:
            return "mean";
        case model::pooling_mode::last:
            return "last";
        case model::pooling_mode::cls:
            return "cls";
        case model::pooling_mode::max:
            return "max";
    }
    return "?";
}

std::string json_escape(const std::string& s) {
    std::string o;
    for (char ch : s) {
        if (ch == '"' || ch == '\\')
            o += '\\', o += ch;
        else if (static_cast<unsigned char>(ch) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            o += buf;
        } else
            o += ch;
    }
    return o;
}

}  // namespace

std::unique_ptr<hf_runtime> hf_runtime::open(const std::filesystem::path& dir,
                                             const options& opts) {
    if (!std::filesystem::is_directory(dir))
        throw io_error(dir.string() + ": not a model directory");
    std::unique_ptr<hf_runtime> r(new hf_runtime());
    r->dir_ = dir;
    r->st_ = model::load_st_pipeline(dir);
    const auto model_dir = r->st_ ? r->st_->transformer_dir : dir;
    r->tok_ = model::hf_tokenizer::load(model_dir);
    r->net_ = transformer::load(model_dir, opts.need_lm_head);
    r->max_tokens_ = std::max<std::size_t>(opts.max_tokens, 1);
    r->batch_tokens_ = opts.batch_tokens ? opts.batch_tokens : 4096;
    r->dim_ = std::size_t(r->net_->config().hidden_size);
    if (r->st_) {
        r->pooling_ = r->st_->pooling;
        r->normalize_ = r->st_->normalize;
        if (r->st_->max_seq_length && *r->st_->max_seq_length > 0)
            r->max_tokens_ = std::min(r->max_tokens_, std::size_t(*r->st_->max_seq_length));
        std::int64_t in = r->net_->config().hidden_size;
        for (const auto& d : r->st_->dense) {
            if (d.in_features != in)
                throw format_error((d.dir / "config.json").string() + ": in_features " +
                                   std::to_string(d.in_features) + " does not match the " +
                                   std::to_string(in) + " features coming in");
            r->dense_.emplace_back(d);
            in = d.out_features;
        }
        r->dim_ = std::size_t(in);
    }
    if (!opts.pooling.empty()) {
        if (opts.pooling == "mean")
            r->pooling_ = model::pooling_mode::mean;
        else if (opts.pooling == "last" || opts.pooling == "lasttoken")
            r->pooling_ = model::pooling_mode::last;
        else if (opts.pooling == "cls")
            r->pooling_ = model::pooling_mode::cls;
        else if (opts.pooling == "max")
            r->pooling_ = model::pooling_mode::max;
        else
            throw argument_error("pooling '" + opts.pooling + "' for " + dir.string() +
                                 ": expected mean, last, cls or max");
    }
    return r;
}

std::string hf_runtime::id() const { return "hf:" + dir_.string() + ":" + pooling_name(pooling_); }

std::string hf_runtime::info_json() const {
    const auto& c = net_->config();
    std::string s = "{\"id\": \"" + json_escape(id()) + "\", \"model_type\": \"" + c.model_type +
                    "\", \"dim\": " + std::to_string(dim_) +
                    ", \"parameters\": " + std::to_string(net_->parameter_count()) +
                    ", \"dtype\": \"" + net_->weight_dtype() + "\", \"compute\": \"f32\"" +
                    ", \"vocab_size\": " + std::to_string(c.vocab_size) + ", \"pooling\": \"" +
                    pooling_name(pooling_) + "\"" +
                    ", \"normalize\": " + (normalize_ ? "true" : "false") +
                    ", \"sentence_transformers\": " + (st_ ? "true" : "false") +
                    ", \"max_tokens\": " + std::to_string(max_tokens_) + "}";
    return s;
}

void hf_runtime::run_batched(std::vector<seq_request>& reqs) const {
    std::size_t i = 0;
    while (i < reqs.size()) {
        std::size_t j = i, tokens = 0;
        while (j < reqs.size() && (j == i || tokens + reqs[j].ids.size() <= batch_tokens_))
            tokens += reqs[j++].ids.size();
        net_->run(std::span<const seq_request>(reqs.data() + i, j - i));
        i = j;
    }
}

std::vector<token_id> hf_runtime::embed_ids(std::string_view text) const {
    auto ids = tok_->encode(text, {.add_special_tokens = true});
    if (ids.size() > max_tokens_) ids.resize(max_tokens_);
    return ids;
}

void hf_runtime::embed(std::span<const std::string_view> texts, float* out) const {
    const std::size_t n = texts.size();
    std::vector<std::vector<token_id>> ids(n);
    oneapi::tbb::parallel_for(std::size_t(0), n,
                              [&](std::size_t i) { ids[i] = embed_ids(texts[i]); });
    const std::size_t hidden = std::size_t(net_->config().hidden_size);
    std::vector<float> pooled(n * hidden, 0.0f);
    std::vector<seq_request> reqs(n);
    for (std::size_t i = 0; i < n; ++i) {
        reqs[i].ids = ids[i];
        reqs[i].pooling = pooling_;
        reqs[i].pooled = pooled.data() + i * hidden;
    }
    run_batched(reqs);
    // Dense modules and normalisation, per row.
    oneapi::tbb::parallel_for(std::size_t(0), n, [&](std::size_t i) {
        std::vector<float> cur(pooled.begin() + long(i * hidden),
                               pooled.begin() + long((i + 1) * hidden)),
            next;
        for (const auto& d : dense_) {
            next.resize(std::size_t(d.out_features()));
            d.apply(cur.data(), 1, next.data());
            cur.swap(next);
        }
        if (normalize_) {
            double ss = 0;
            for (float v : cur) ss += double(v) * double(v);
            const double norm = std::max(std::sqrt(ss), 1e-12);
            for (auto& v : cur) v = float(double(v) / norm);
        }
        std::copy(cur.begin(), cur.end(), out + i * dim_);
    });
}

std::vector<score_result> hf_runtime::score(std::span<const std::string_view> prompts,
                                            std::span<const std::string_view> responses,
                                            bool keep_logprobs) const {
    if (prompts.size() != responses.size())
        throw argument_error("score: prompts and responses differ in number");
    if (!can_score())
        throw unsupported_error(dir_.string() +
                                ": not a causal language model (no lm_head, or bidirectional "
                                "attention): it cannot score");
    const std::size_t n = prompts.size();
    std::vector<score_result> res(n);
    std::vector<std::vector<token_id>> ids(n);
    std::vector<std::size_t> from(n);
    const std::size_t nprefix = tok_->prefix_special().size();
    oneapi::tbb::parallel_for(std::size_t(0), n, [&](std::size_t i) {
        auto p = tok_->encode(prompts[i], {.add_special_tokens = true});
        auto r = tok_->encode(responses[i], {.add_special_tokens = false});
        auto& out = res[i];
        out.truncated = model::truncate_pair(p, r, nprefix, max_tokens_).truncated();
        out.prompt_tokens = std::uint32_t(p.size());
        out.response_tokens = std::uint32_t(r.size());
        from[i] = p.size();
        ids[i] = std::move(p);
        ids[i].insert(ids[i].end(), r.begin(), r.end());
        const std::size_t f = std::max<std::size_t>(from[i], 1);
        out.n_scored = std::uint32_t(ids[i].size() > f ? ids[i].size() - f : 0);
        out.logprobs.assign(out.n_scored, 0.0f);
    });
    std::vector<seq_request> reqs(n);
    for (std::size_t i = 0; i < n; ++i) {
        reqs[i].ids = ids[i];
        reqs[i].score_from = from[i];
        reqs[i].logprobs = res[i].n_scored ? res[i].logprobs.data() : nullptr;
    }
    run_batched(reqs);
    for (auto& r : res) {
        double s = 0;
        for (float lp : r.logprobs) s -= double(lp);
        r.sum_nll = s;
        if (!keep_logprobs) std::vector<float>().swap(r.logprobs);
    }
    return res;
}

std::vector<token_id> hf_runtime::greedy(std::vector<token_id> ids, std::size_t n) const {
    std::vector<float> logits(std::size_t(net_->config().vocab_size));
    std::vector<token_id> out;
    for (std::size_t step = 0; step < n && !ids.empty(); ++step) {
        seq_request rq;
        rq.ids = ids;
        rq.next_logits = logits.data();
        net_->run(std::span<const seq_request>(&rq, 1));
        auto best = token_id(std::max_element(logits.begin(), logits.end()) - logits.begin());
        out.push_back(best);
        ids.push_back(best);
    }
    return out;
}

}  // namespace engine
POLYGLOT_END_NAMESPACE
