// SPDX-License-Identifier: Apache-2.0
#include "common/runtime/lm_runtime.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <polyglot/core/error.hpp>
#include <type_traits>

#include "common/constrained/constrained.hpp"
#include "common/plugin_config.hpp"
#include "common/runtime/kv_pool.hpp"
#include "common/runtime/prefix_planner.hpp"
#include "common/runtime/scheduler.hpp"
#include "common/safetensors.hpp"
#include "common/stop_strings.hpp"
#include "common/truncation.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

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

std::string json_escape(std::string_view s) {
    std::string o;
    for (char ch : s) {
        const auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            o += '\\';
            o += ch;
        } else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            o += buf;
        } else {
            o += ch;
        }
    }
    return o;
}

/// A sentence-transformers Dense module, applied on the host to pooled vectors (a few MFLOP
/// per text: not worth a device kernel, and one implementation for every backend).
class dense_layer {
  public:
    explicit dense_layer(const model::st_dense& spec)
        : in_(spec.in_features), out_(spec.out_features), act_(spec.act) {
        auto ws = model::weight_set::open(spec.dir);
        const auto& w = ws.get("linear.weight", {out_, in_});
        w_.resize(std::size_t(out_ * in_));
        model::to_float(w, w_.data());
        if (spec.bias) {
            const auto& b = ws.get("linear.bias", {out_});
            b_.resize(std::size_t(out_));
            model::to_float(b, b_.data());
        }
    }
    [[nodiscard]] std::int64_t out_features() const noexcept { return out_; }
    void apply(const float* x, float* y) const {
        for (std::int64_t o = 0; o < out_; ++o) {
            const float* wr = w_.data() + o * in_;
            double s = 0;
            for (std::int64_t i = 0; i < in_; ++i) s += double(wr[i]) * double(x[i]);
            float v = float(s) + (b_.empty() ? 0.0f : b_[std::size_t(o)]);
            if (act_ == model::dense_activation::tanh) v = std::tanh(v);
            y[o] = v;
        }
    }

  private:
    std::int64_t in_ = 0, out_ = 0;
    std::vector<float> w_, b_;
    model::dense_activation act_ = model::dense_activation::identity;
};

/// Physical memory in bytes (0 = unknown).
std::size_t physical_memory() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? std::size_t(pages) * std::size_t(page) : 0;
}

/// Progress reports at most every ~100 ms.
class progress_meter {
  public:
    progress_meter(const plugin_sdk::call_context& ctx, std::uint64_t total)
        : ctx_(ctx), total_(total) {}
    void update(std::uint64_t done, std::uint64_t tokens, bool force = false) {
        const auto now = std::chrono::steady_clock::now();
        if (!force && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        ctx_.progress(done, total_, tokens);
    }

  private:
    const plugin_sdk::call_context& ctx_;
    std::uint64_t total_;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace

struct lm_runtime::impl {
    std::filesystem::path dir;
    std::optional<model::st_pipeline> st;
    std::vector<dense_layer> dense;
    model::pooling_mode pooling = model::pooling_mode::mean;
    bool normalize = false;
    bool parse_special = false;
    std::size_t embed_limit = 16384;  // EMBED truncation
    std::size_t max_tokens = 16384;   // SCORE truncation
    std::size_t pass_tokens = 4096;
    std::size_t max_batch = 64;
    std::size_t kv_tokens = 0;  // 0: no KV cache
    kv_pool pool;
    std::once_flag constraints_once;  // the token trie is built on the first constrained call
    std::unique_ptr<constrained::constraint_cache> constraints;

    /// Runs uncached passes over @p seqs in order, at most pass_tokens tokens per pass.
    void run_uncached(device_model& dev, std::vector<forward_seq>& seqs) const {
        std::size_t i = 0;
        while (i < seqs.size()) {
            std::size_t j = i, tokens = 0;
            while (j < seqs.size() && (j == i || tokens + seqs[j].ids.size() <= pass_tokens))
                tokens += seqs[j++].ids.size();
            dev.forward(std::span<const forward_seq>(seqs.data() + i, j - i));
            i = j;
        }
    }
};

options parse_options(std::string_view config_json) {
    simdjson::dom::parser parser;
    simdjson::dom::object obj = model::parse_config(parser, config_json);
    options o;
    o.pooling = model::config_string(obj, "pooling");
    o.max_tokens = model::config_size(obj, "max_tokens", o.max_tokens);
    o.pass_tokens = model::config_size(obj, "batch_tokens", 0);
    o.kv_tokens = model::config_size(obj, "kv_tokens", 0);
    o.max_batch = model::config_size(obj, "max_batch", 0);
    o.parse_special = model::config_bool(obj, "parse_special", false);
    return o;
}

lm_runtime::lm_runtime() : p_(std::make_unique<impl>()) {}

/// Why ids from the tokenizer cannot go to the model ("" when they can): a tokenizer.json with
/// more ids than the weights' vocabulary.
static std::string outside_vocabulary(std::span<const token_id> ids, std::size_t vocab) {
    for (auto id : ids)
        if (id >= vocab)
            return "token id " + std::to_string(id) +
                   " from the tokenizer is outside the model's vocabulary of " +
                   std::to_string(vocab) + " (tokenizer.json and the weights do not match)";
    return {};
}
lm_runtime::~lm_runtime() = default;

std::unique_ptr<lm_runtime> lm_runtime::open(const std::filesystem::path& dir, const options& opts,
                                             const device_factory& make_device) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw io_error(dir.string() + ": not a model directory");
    std::unique_ptr<lm_runtime> r(new lm_runtime());
    impl& p = *r->p_;
    p.dir = dir;
    p.st = model::load_st_pipeline(dir);
    const auto model_dir = p.st ? p.st->transformer_dir : dir;
    r->tok_ = model::hf_tokenizer::load(model_dir);
    r->dev_ = make_device(model_dir);
    const auto& c = r->dev_->config();
    if (opts.need_lm_head && !r->dev_->has_lm_head())
        throw format_error(c.file.string() + ": the model has no output projection (lm_head)");
    r->vocab_ = std::size_t(c.vocab_size);
    r->special_ = load_special_tokens(model_dir, *r->tok_, r->vocab_);
    p.parse_special = opts.parse_special;
    p.max_tokens = std::max<std::size_t>(opts.max_tokens, 1);
    p.embed_limit = p.max_tokens;
    p.pass_tokens = opts.pass_tokens ? opts.pass_tokens : r->dev_->pass_tokens();
    p.pass_tokens = std::max<std::size_t>(p.pass_tokens, 1);
    p.max_batch = opts.max_batch ? opts.max_batch : 64;

    // What the model may do.
    if (!r->dev_->has_lm_head())
        r->no_score_ = dir.string() +
                       ": the model has no output projection (lm_head): it cannot "
                       "score or generate";
    else if (c.bidirectional)
        r->no_score_ = dir.string() +
                       ": bidirectional attention (an encoder such as EmbeddingGemma sees the "
                       "tokens after each position): it cannot score or generate";
    r->no_generate_ = r->no_score_;
    if (r->no_generate_.empty() && r->dev_->kv_block_tokens() == 0)
        r->no_generate_ = "the device has no KV cache: generation is not available on this backend";

    // Context and KV-cache budget: the model's context, bounded by a token budget of the KV
    // cache (default: up to 64K tokens within a quarter of physical memory).
    std::size_t ctx_len =
        c.max_position_embeddings > 0 ? std::size_t(c.max_position_embeddings) : (1u << 20);
    if (const std::size_t bt = r->dev_->kv_block_tokens(); bt > 0) {
        std::size_t kv = opts.kv_tokens;
        if (kv == 0) {
            kv = 65536;
            const std::size_t per = std::max<std::size_t>(r->dev_->kv_bytes_per_token(), 1);
            if (const std::size_t mem = physical_memory(); mem > 0)
                kv = std::min(kv, mem / 4 / per);
            kv = std::max(kv, std::min<std::size_t>(ctx_len, 4096));
        }
        kv = std::max(kv, bt);
        const std::size_t blocks = (kv + bt - 1) / bt;
        r->dev_->kv_reserve(blocks);
        p.pool.reset(blocks, bt);
        p.kv_tokens = blocks * bt;
        ctx_len = std::min(ctx_len, p.kv_tokens);
    }
    r->max_context_ = ctx_len;

    // The longest text one token can add in a stream: its text alone has at least as many
    // bytes as the token (an incomplete UTF-8 byte shows as 3-byte U+FFFD), and in context each
    // of those bytes adds at most 3; plus a space a decoder may put before it.
    std::size_t longest = 1;
    for (std::size_t id = 0; id < r->vocab_; ++id) {
        const token_id t = token_id(id);
        longest = std::max(longest, r->tok_->decode(std::span<const token_id>(&t, 1)).size());
    }
    r->max_token_bytes_ = 3 * longest + 1;

    // EMBED: pooling and the sentence-transformers modules.
    r->dim_ = std::size_t(c.hidden_size);
    if (p.st) {
        p.pooling = p.st->pooling;
        p.normalize = p.st->normalize;
        if (p.st->max_seq_length && *p.st->max_seq_length > 0)
            p.embed_limit = std::min(p.embed_limit, std::size_t(*p.st->max_seq_length));
        std::int64_t in = c.hidden_size;
        for (const auto& d : p.st->dense) {
            if (d.in_features != in)
                throw format_error((d.dir / "config.json").string() + ": in_features " +
                                   std::to_string(d.in_features) + " does not match the " +
                                   std::to_string(in) + " features coming in");
            p.dense.emplace_back(d);
            in = d.out_features;
        }
        r->dim_ = std::size_t(in);
    }
    if (!opts.pooling.empty()) {
        if (opts.pooling == "mean")
            p.pooling = model::pooling_mode::mean;
        else if (opts.pooling == "last" || opts.pooling == "lasttoken")
            p.pooling = model::pooling_mode::last;
        else if (opts.pooling == "cls")
            p.pooling = model::pooling_mode::cls;
        else if (opts.pooling == "max")
            p.pooling = model::pooling_mode::max;
        else
            throw argument_error("pooling '" + opts.pooling + "' for " + dir.string() +
                                 ": expected mean, last, cls or max");
    }
    return r;
}

std::string lm_runtime::id() const {
    return "hf:" + p_->dir.string() + ":" + pooling_name(p_->pooling);
}

std::string lm_runtime::info_json() const {
    const auto& c = dev_->config();
    std::string eos = "[";
    for (std::size_t i = 0; i < special_.eos.size(); ++i)
        eos += (i ? ", " : "") + std::to_string(special_.eos[i]);
    eos += "]";
    std::string s = "{\"id\": \"" + json_escape(id()) + "\", " + dev_->describe_json() +
                    ", \"model_type\": \"" + json_escape(c.model_type) +
                    "\", \"dim\": " + std::to_string(dim_) +
                    ", \"vocab_size\": " + std::to_string(vocab_) + ", \"pooling\": \"" +
                    pooling_name(p_->pooling) + "\"" +
                    ", \"normalize\": " + (p_->normalize ? "true" : "false") +
                    ", \"sentence_transformers\": " + (p_->st ? "true" : "false") +
                    ", \"max_tokens\": " + std::to_string(p_->max_tokens) +
                    ", \"max_context\": " + std::to_string(max_context_) +
                    ", \"max_token_bytes\": " + std::to_string(max_token_bytes_) +
                    ", \"eos_token_ids\": " + eos + ", \"bos_token_id\": " +
                    (special_.bos ? std::to_string(*special_.bos) : std::string("null")) +
                    ", \"kv_tokens\": " + std::to_string(p_->kv_tokens) +
                    ", \"can_score\": " + (no_score_.empty() ? "true" : "false") +
                    ", \"can_generate\": " + (no_generate_.empty() ? "true" : "false") + "}";
    return s;
}

std::vector<token_id> lm_runtime::tokenize(std::string_view text, bool add_special,
                                           bool parse_special) const {
    return tok_->encode(text, {.add_special_tokens = add_special, .parse_special = parse_special});
}

std::string lm_runtime::detokenize(std::span<const token_id> ids, bool skip_special) const {
    return tok_->decode(ids, {.skip_special_tokens = skip_special});
}

std::vector<token_id> lm_runtime::embed_ids(std::string_view text) const {
    auto ids = tokenize(text, true, p_->parse_special);
    if (ids.size() > p_->embed_limit) ids.resize(p_->embed_limit);
    return ids;
}

void lm_runtime::embed(std::span<const std::string_view> texts, float* out,
                       const plugin_sdk::call_context& ctx) {
    const std::size_t n = texts.size();
    std::vector<std::vector<token_id>> ids(n);
    dev_->parallel_for(n, [&](std::size_t i) { ids[i] = embed_ids(texts[i]); });
    const std::size_t hidden = std::size_t(dev_->config().hidden_size);
    std::vector<float> pooled(n * hidden, 0.0f);
    std::vector<forward_seq> seqs;
    std::vector<bool> failed(n, false);
    for (std::size_t i = 0; i < n; ++i) {
        if (ids[i].empty()) continue;  // no token at all: the zero vector
        if (auto why = outside_vocabulary(ids[i], vocab_); !why.empty()) {
            ctx.item_failed(i, POLYGLOT_STATUS_INVALID_ARGUMENT, why);
            failed[i] = true;
            continue;
        }
        forward_seq s;
        s.ids = ids[i];
        s.pooling = p_->pooling;
        s.pooled = pooled.data() + i * hidden;
        seqs.push_back(s);
    }
    if (ctx.cancelled()) return;
    p_->run_uncached(*dev_, seqs);
    dev_->parallel_for(n, [&](std::size_t i) {
        if (failed[i]) {
            std::fill_n(out + i * dim_, dim_, std::numeric_limits<float>::quiet_NaN());
            return;
        }
        std::vector<float> cur(pooled.begin() + long(i * hidden),
                               pooled.begin() + long((i + 1) * hidden)),
            next;
        for (const auto& d : p_->dense) {
            next.resize(std::size_t(d.out_features()));
            d.apply(cur.data(), next.data());
            cur.swap(next);
        }
        if (p_->normalize) {
            double ss = 0;
            for (float v : cur) ss += double(v) * double(v);
            const double norm = std::max(std::sqrt(ss), 1e-12);
            for (auto& v : cur) v = float(double(v) / norm);
        }
        std::copy(cur.begin(), cur.end(), out + i * dim_);
    });
    ctx.progress(n, n, 0);
}

std::vector<score_result> lm_runtime::score(std::span<const std::string_view> prompts,
                                            std::span<const std::string_view> responses,
                                            const plugin_sdk::call_context& ctx,
                                            bool keep_logprobs) {
    if (prompts.size() != responses.size())
        throw argument_error("score: prompts and responses differ in number");
    if (!no_score_.empty()) throw unsupported_error(no_score_);
    const std::size_t n = prompts.size();
    std::vector<score_result> res(n);
    std::vector<std::vector<token_id>> ids(n);
    std::vector<std::size_t> from(n);
    const std::size_t nprefix = tok_->prefix_special().size();
    dev_->parallel_for(n, [&](std::size_t i) {
        auto p = tokenize(prompts[i], true, p_->parse_special);
        auto r = tokenize(responses[i], false, p_->parse_special);
        auto& out = res[i];
        out.truncated = model::truncate_pair(p, r, nprefix, p_->max_tokens).truncated();
        out.prompt_tokens = std::uint32_t(p.size());
        out.response_tokens = std::uint32_t(r.size());
        from[i] = p.size();
        ids[i] = std::move(p);
        ids[i].insert(ids[i].end(), r.begin(), r.end());
        const std::size_t f = std::max<std::size_t>(from[i], 1);
        out.n_scored = std::uint32_t(ids[i].size() > f ? ids[i].size() - f : 0);
        out.logprobs.assign(out.n_scored, 0.0f);
    });
    std::vector<std::vector<output_request>> outs(n);
    std::vector<forward_seq> seqs;
    for (std::size_t i = 0; i < n; ++i) {
        if (auto why = outside_vocabulary(ids[i], vocab_); !why.empty()) {
            ctx.item_failed(i, POLYGLOT_STATUS_INVALID_ARGUMENT, why);
            std::fill(res[i].logprobs.begin(), res[i].logprobs.end(),
                      std::numeric_limits<float>::quiet_NaN());
            continue;
        }
        if (res[i].n_scored == 0) continue;
        const std::size_t f = std::max<std::size_t>(from[i], 1);
        for (std::size_t p = f; p < ids[i].size(); ++p) {
            output_request o;
            o.row = std::uint32_t(p - 1);
            o.target = std::int32_t(ids[i][p]);
            o.logprob = res[i].logprobs.data() + (p - f);
            outs[i].push_back(o);
        }
        forward_seq s;
        s.ids = ids[i];
        s.outputs = outs[i];
        seqs.push_back(s);
    }
    if (ctx.cancelled()) return res;
    p_->run_uncached(*dev_, seqs);
    for (auto& r : res) {
        double s = 0;
        for (float lp : r.logprobs) s -= double(lp);
        r.sum_nll = s;
        if (!keep_logprobs) std::vector<float>().swap(r.logprobs);
    }
    ctx.progress(n, n, 0);
    return res;
}

// ---- SCORE_IDS ----------------------------------------------------------------------------------

namespace {

/// Why the ids of a request cannot go to the model ("" when they can): the first one outside
/// [0, vocab), with its position.
template <class Id>
std::string id_outside_vocabulary(std::span<const Id> ids, std::size_t vocab) {
    for (std::size_t p = 0; p < ids.size(); ++p) {
        bool outside = std::size_t(ids[p]) >= vocab;
        if constexpr (std::is_signed_v<Id>) outside = outside || ids[p] < 0;
        if (outside)
            return "token id " + std::to_string(ids[p]) + " at position " + std::to_string(p) +
                   " is outside the vocabulary (" + std::to_string(vocab) + " ids)";
    }
    return {};
}

/// Why sequence @p s cannot be scored ("" when it can): longer than the context, or an id
/// outside the vocabulary.
std::string score_ids_problem(std::span<const std::int32_t> s, std::size_t max_context,
                              std::size_t vocab) {
    if (s.size() > max_context)
        return "sequence of " + std::to_string(s.size()) +
               " tokens is longer than the model's context of " + std::to_string(max_context) +
               " tokens";
    return id_outside_vocabulary(s, vocab);
}

}  // namespace

void lm_runtime::score_ids(std::span<const std::span<const std::int32_t>> seqs,
                           std::span<const std::size_t> score_from,
                           std::span<float* const> logprobs, std::span<std::uint8_t* const> greedy,
                           const plugin_sdk::call_context& ctx) {
    if (!no_score_.empty()) throw unsupported_error(no_score_);
    const std::size_t n = seqs.size();
    if (score_from.size() != n || logprobs.size() != n || (!greedy.empty() && greedy.size() != n))
        throw argument_error("score_ids: the per-sequence arrays differ in size");

    struct seq {
        std::size_t index = 0;
        std::vector<token_id> ids;
        std::size_t first = 0;  // first scored position: max(score_from, 1)
    };
    std::vector<seq> all;
    all.reserve(n);
    std::uint64_t total_tokens = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto s = seqs[i];
        const std::size_t first = std::max<std::size_t>(score_from[i], 1);
        if (auto why = score_ids_problem(s, max_context_, vocab_); !why.empty()) {
            ctx.item_failed(i, POLYGLOT_STATUS_INVALID_ARGUMENT, why);
            continue;
        }
        if (first >= s.size()) continue;  // nothing to score
        seq q;
        q.index = i;
        q.ids.assign(s.begin(), s.end());
        q.first = first;
        total_tokens += s.size();
        all.push_back(std::move(q));
    }
    progress_meter meter(ctx, n);
    std::uint64_t tokens_done = 0, items_done = n - all.size();

    // Output requests of a chunk [a, b): row r predicts position a + r + 1.
    auto requests = [&](const seq& q, std::size_t a, std::size_t b,
                        std::vector<output_request>& out) {
        out.clear();
        for (std::size_t pos = std::max(a + 1, q.first); pos <= b && pos < q.ids.size(); ++pos) {
            output_request o;
            o.row = std::uint32_t(pos - 1 - a);
            o.target = std::int32_t(q.ids[pos]);
            o.logprob = logprobs[q.index] + pos;
            o.greedy = greedy.empty() ? nullptr : greedy[q.index] + pos;
            out.push_back(o);
        }
    };

    if (dev_->kv_block_tokens() == 0) {
        // No KV cache: whole sequences, no prefix reuse.
        std::vector<std::vector<output_request>> outs(all.size());
        std::vector<forward_seq> fs(all.size());
        for (std::size_t k = 0; k < all.size(); ++k) {
            requests(all[k], 0, all[k].ids.size(), outs[k]);
            fs[k].ids = all[k].ids;
            fs[k].outputs = outs[k];
        }
        if (!ctx.cancelled()) p_->run_uncached(*dev_, fs);
        meter.update(n, total_tokens, true);
        return;
    }

    // Prefix reuse and the passes: runtime/prefix_planner.hpp.
    prefix_planner plan(p_->pool, p_->pass_tokens, std::max<std::size_t>(p_->max_batch, 1));
    for (const auto& q : all) plan.add(q.ids, q.first);
    plan.share_prefixes();
    std::vector<forward_seq> pass;
    std::vector<std::vector<output_request>> outs;
    while (!plan.idle()) {
        if (ctx.cancelled()) break;
        const auto& items = plan.next_pass();
        if (items.empty()) continue;  // sharing given up for some: plan again
        pass.assign(items.size(), forward_seq{});
        outs.resize(items.size());
        for (std::size_t j = 0; j < items.size(); ++j) {
            const seq& q = all[items[j].seq];
            const std::size_t a = items[j].begin, b = a + items[j].chunk;
            requests(q, a, b, outs[j]);
            pass[j].ids = std::span<const token_id>(q.ids).subspan(a, b - a);
            pass[j].pos0 = a;
            pass[j].blocks = plan.blocks(items[j].seq);
            pass[j].outputs = outs[j];
        }
        dev_->forward(pass);
        for (const auto& it : items) tokens_done += it.chunk;
        items_done += plan.completed();
        meter.update(items_done, tokens_done);
    }
    plan.release_all();
    meter.update(items_done, tokens_done, true);
}
// ---- GENERATE -----------------------------------------------------------------------------------

namespace {

/// Sets the logits of the tokens the schema does not allow at @p state to -inf; false when it
/// allows none (no document fits in the @p remaining tokens).
bool mask_logits(const constrained::constraint& c, constrained::constraint::state state,
                 std::uint32_t remaining, constrained::token_mask& scratch, float* logits,
                 std::size_t V) {
    const constrained::token_mask& m = c.allowed(state, remaining, scratch);
    const auto& w = m.words();
    bool any = false;
    for (std::size_t k = 0; k < w.size(); ++k) {
        any = any || w[k] != 0;
        const std::size_t base = k * 64;
        std::uint64_t off = ~w[k];
        if (base + 64 > V) off &= (std::uint64_t{1} << (V - base)) - 1;
        for (; off; off &= off - 1)
            logits[base + std::size_t(__builtin_ctzll(off))] =
                -std::numeric_limits<float>::infinity();
    }
    return any;
}

void check_generate_options(const generate_options& o) {
    if (o.max_new_tokens == 0) throw argument_error("generate: max_new_tokens must be at least 1");
    if (!(o.sampling.repetition_penalty > 0.0f))
        throw argument_error("generate: repetition_penalty must be positive");
    if (std::isnan(o.sampling.temperature) || std::isnan(o.sampling.top_p) ||
        std::isnan(o.sampling.min_p))
        throw argument_error("generate: temperature, top_p and min_p must be numbers");
}

/// Why @p pr cannot be a prompt ("" when it can): empty, no room left in the context, or an id
/// outside the vocabulary.
std::string prompt_problem(std::span<const token_id> pr, std::size_t max_context,
                           std::size_t vocab) {
    if (pr.empty()) return "empty prompt (no tokens)";
    if (pr.size() >= max_context)
        return "prompt of " + std::to_string(pr.size()) +
               " tokens leaves no room to generate in the context of " +
               std::to_string(max_context) + " tokens";
    return id_outside_vocabulary(pr, vocab);
}

/// One GENERATE sequence: its tokens and stopping state (its KV blocks are the scheduler's).
struct gen_seq {
    std::size_t index = 0;
    constrained::constraint::state cs = 0;  // the schema automaton's state
    constrained::token_mask mask;           // scratch of budget-filtered masks
    std::vector<token_id> tokens;           // prompt, then generated
    std::size_t prompt_len = 0;
    std::optional<sampler> smp;
    std::optional<model::hf_tokenizer::stream_decoder> dec;
    std::optional<model::stop_matcher> stop;
    bool done = false;
    std::size_t logits_slot = 0;
};

/// The call-wide part of a sampling step.
struct sampling_step {
    const generate_options& o;
    const constrained::constraint* schema;  // null: free text
    std::span<const token_id> ends;         // sorted ids that end a sequence
    std::size_t vocab, max_context;
};

/// Samples the next token of @p q from its logits @p row, then detokenizes it and checks the
/// stop conditions (sets q.done and g.finish_reason when the sequence ends).
void sample_next(const sampling_step& s, gen_seq& q, generated& g, float* row) {
    const generate_options& o = s.o;
    const std::size_t V = s.vocab;
    std::vector<float> unmasked;
    if (s.schema) {  // mask before sampling; log-probs stay the model's
        if (o.logprobs) unmasked.assign(row, row + V);
        const std::size_t left = std::min<std::size_t>(
            o.max_new_tokens - (q.tokens.size() - q.prompt_len), s.max_context - q.tokens.size());
        if (!mask_logits(*s.schema, q.cs, std::uint32_t(left), q.mask, row, V)) {
            q.done = true;  // no document fits in what is left
            g.finish_reason = POLYGLOT_FINISH_LENGTH;
            return;
        }
    }
    std::span<const float> l(row, V);
    const token_id t = q.smp->sample(l);
    if (o.logprobs) g.logprobs.push_back(log_softmax_at(s.schema ? unmasked.data() : row, V, t));
    q.tokens.push_back(t);
    q.smp->observe(t);
    const std::size_t produced = q.tokens.size() - q.prompt_len;
    const bool is_end = std::binary_search(s.ends.begin(), s.ends.end(), t);
    if (s.schema && !is_end) q.cs = s.schema->advance(q.cs, t);
    if (is_end) {
        q.done = true;
        g.finish_reason = POLYGLOT_FINISH_EOS;
        return;
    }
    if (q.stop->feed(q.dec->push(t)).stopped) {
        q.done = true;
        g.finish_reason = POLYGLOT_FINISH_STOP;
        return;
    }
    if (s.schema && s.schema->complete(q.cs)) {  // nothing may follow: end without an EOS
        q.done = true;
        g.finish_reason = POLYGLOT_FINISH_EOS;
        return;
    }
    if (produced >= o.max_new_tokens || q.tokens.size() >= s.max_context) {
        q.done = true;
        g.finish_reason = POLYGLOT_FINISH_LENGTH;
    }
}

/// The result of a finished sequence: the rest of its text (unless a stop string ended it)
/// and its ids.
void finish_sequence(gen_seq& q, generated& g, std::int32_t reason) {
    if (reason != POLYGLOT_FINISH_STOP) {
        const std::string rest = q.dec->finish();
        if (q.stop->feed(rest).stopped) reason = POLYGLOT_FINISH_STOP;
        (void)q.stop->flush();
    }
    g.text = q.stop->text();
    g.finish_reason = reason;
    g.ids.assign(q.tokens.begin() + std::ptrdiff_t(q.prompt_len), q.tokens.end());
    q.done = true;
    q.dec.reset();
    q.stop.reset();
}

}  // namespace

std::vector<generated> lm_runtime::generate(std::span<const std::vector<token_id>> prompts,
                                            const generate_options& o,
                                            const plugin_sdk::call_context& ctx) {
    if (!no_generate_.empty()) throw unsupported_error(no_generate_);
    check_generate_options(o);
    const std::size_t n = prompts.size();
    std::vector<generated> out(n);
    const model::stop_strings stops(o.stop);
    std::vector<token_id> ends = o.stop_ids;
    if (!o.ignore_eos) ends.insert(ends.end(), special_.eos.begin(), special_.eos.end());
    std::sort(ends.begin(), ends.end());

    std::shared_ptr<const constrained::constraint> schema;
    if (!o.json_schema.empty()) {
        std::call_once(p_->constraints_once, [&] {
            p_->constraints = std::make_unique<constrained::constraint_cache>(
                constrained::token_vocab::from_tokenizer(*tok_, special_.eos, vocab_));
        });
        schema = p_->constraints->get(o.json_schema);
    }

    std::vector<gen_seq> all;
    all.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& pr = prompts[i];
        generated& g = out[i];
        g.prompt_tokens = std::uint32_t(std::min<std::size_t>(pr.size(), UINT32_MAX));
        if (auto why = prompt_problem(pr, max_context_, vocab_); !why.empty()) {
            g.failed = true;
            ctx.item_failed(i, POLYGLOT_STATUS_INVALID_ARGUMENT, why);
            continue;
        }
        gen_seq q;
        q.index = i;
        q.tokens = pr;
        q.prompt_len = pr.size();
        all.push_back(std::move(q));
    }
    // Per-sequence state is built in parallel (stream decoders read the prompt's tail).
    dev_->parallel_for(all.size(), [&](std::size_t k) {
        gen_seq& q = all[k];
        q.smp.emplace(o.sampling, o.seed, o.first_index + q.index);
        q.smp->observe(q.tokens);
        q.dec.emplace(*tok_, model::hf_decode_options{.skip_special_tokens = !o.keep_special},
                      q.tokens);
        q.stop.emplace(stops);
    });

    // Admission, batching and preemption: runtime/scheduler.hpp (ids = indices into all).
    scheduler sched(p_->pool, p_->pass_tokens, std::max<std::size_t>(p_->max_batch, 1));
    for (const auto& q : all) sched.add(q.tokens.size());
    const std::size_t V = vocab_;
    const sampling_step step{o, schema.get(), ends, V, max_context_};
    std::vector<float> logits;  // one row per sequence sampled in a pass
    std::vector<forward_seq> pass;
    std::vector<std::vector<output_request>> outs;
    std::vector<std::size_t> sampled;
    progress_meter meter(ctx, n);
    std::uint64_t tokens_done = 0, items_done = n - all.size();

    while (!sched.idle()) {
        if (ctx.cancelled()) break;
        const auto& items = sched.next_pass();
        pass.assign(items.size(), forward_seq{});
        outs.resize(items.size());
        sampled.clear();
        for (std::size_t j = 0; j < items.size(); ++j) {
            gen_seq& q = all[items[j].seq];
            const std::size_t a = items[j].begin, b = a + items[j].chunk;
            outs[j].clear();
            if (b == q.tokens.size()) {  // the chunk ends the sequence: sample after it
                q.logits_slot = sampled.size();
                sampled.push_back(items[j].seq);
                output_request r;
                r.row = std::uint32_t(b - a - 1);
                r.target = -1;
                outs[j].push_back(r);
            }
            pass[j].ids = std::span<const token_id>(q.tokens).subspan(a, b - a);
            pass[j].pos0 = a;
            pass[j].blocks = sched.blocks(items[j].seq);
            pass[j].outputs = outs[j];
        }
        if (logits.size() < sampled.size() * V) logits.resize(sampled.size() * V);
        for (std::size_t j = 0; j < items.size(); ++j)
            if (!outs[j].empty())
                outs[j][0].logits = logits.data() + all[items[j].seq].logits_slot * V;
        dev_->forward(pass);
        sched.completed();
        for (const auto& it : items) tokens_done += it.chunk;
        // Sample, detokenize and check the stop conditions, per sequence in parallel.
        dev_->parallel_for(sampled.size(), [&](std::size_t s) {
            gen_seq& q = all[sampled[s]];
            sample_next(step, q, out[q.index], logits.data() + q.logits_slot * V);
        });
        for (std::size_t k : sampled) {
            gen_seq& q = all[k];
            if (!q.done) {
                sched.set_length(k, q.tokens.size());
                continue;
            }
            finish_sequence(q, out[q.index], out[q.index].finish_reason);
            sched.retire(k);
            ++items_done;
        }
        meter.update(items_done, tokens_done);
    }
    sched.release_all();
    meter.update(items_done, tokens_done, true);
    return out;
}

}  // namespace runtime
POLYGLOT_END_NAMESPACE
