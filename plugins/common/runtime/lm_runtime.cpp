// SPDX-License-Identifier: Apache-2.0
#include "common/runtime/lm_runtime.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <optional>
#include <polyglot/core/error.hpp>
#include <unordered_map>

#include "common/runtime/detok_standin.hpp"  // TEMPORARY: the tokenizer branch's decoding
#include "common/runtime/kv_pool.hpp"
#include "common/safetensors.hpp"
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
    std::optional<standin::detok> detok;
    kv_pool pool;

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

lm_runtime::lm_runtime() : p_(std::make_unique<impl>()) {}
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
    p.detok.emplace(*r->tok_);
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

    // The longest text one token can add: its bytes, each possibly rendered as U+FFFD.
    std::size_t longest = 1;
    for (std::size_t id = 0; id < r->vocab_; ++id) {
        std::string raw;
        const token_id t = token_id(id);
        p.detok->raw(std::span<const token_id>(&t, 1), false, raw);
        longest = std::max(longest, raw.size());
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
    std::vector<token_id> known;
    known.reserve(ids.size());
    for (auto id : ids)
        if (id < vocab_) known.push_back(id);
    return p_->detok->decode(known, skip_special);
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
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < n; ++i) {
        if (ids[i].empty()) continue;  // no token at all: the zero vector
        forward_seq s;
        s.ids = ids[i];
        s.pooling = p_->pooling;
        s.pooled = pooled.data() + i * hidden;
        seqs.push_back(s);
    }
    if (ctx.cancelled()) return;
    p_->run_uncached(*dev_, seqs);
    dev_->parallel_for(n, [&](std::size_t i) {
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
        std::size_t cached = 0;
        std::vector<std::uint32_t> blocks;
        std::ptrdiff_t owner = -1;  // a sequence whose first `shared` tokens' blocks this one uses
        std::size_t shared = 0;
        std::size_t dependents = 0;  // sequences still to take this one's blocks
        bool done = false, admitted = false;
    };
    std::vector<seq> all;
    all.reserve(n);
    std::uint64_t total_tokens = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto s = seqs[i];
        const std::size_t first = std::max<std::size_t>(score_from[i], 1);
        if (s.size() > max_context_) {
            ctx.item_failed(i, POLYGLOT_STATUS_INVALID_ARGUMENT,
                            "sequence of " + std::to_string(s.size()) +
                                " tokens is longer than the model's context of " +
                                std::to_string(max_context_) + " tokens");
            continue;
        }
        bool bad = false;
        for (std::size_t p = 0; p < s.size() && !bad; ++p)
            if (s[p] < 0 || std::size_t(s[p]) >= vocab_) {
                ctx.item_failed(i, POLYGLOT_STATUS_INVALID_ARGUMENT,
                                "token id " + std::to_string(s[p]) + " at position " +
                                    std::to_string(p) + " is outside the vocabulary (" +
                                    std::to_string(vocab_) + " ids)");
                bad = true;
            }
        if (bad || first >= s.size()) continue;  // failed, or nothing to score
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

    // Prefix reuse: a sequence takes the longest run of whole blocks that an earlier sequence
    // of the call has with the same ids, up to the row before its first scored position.
    kv_pool& pool = p_->pool;
    const std::size_t B = pool.block_tokens();
    {
        std::unordered_map<std::uint64_t, std::size_t> seen;  // hash of k blocks → sequence
        for (std::size_t k = 0; k < all.size(); ++k) {
            seq& q = all[k];
            const std::size_t usable = std::min(q.first - 1, q.ids.size() - 1) / B;
            std::uint64_t h = 0x243F6A8885A308D3ull;
            std::size_t best = 0;
            std::ptrdiff_t owner = -1;
            const std::size_t full = q.ids.size() / B;
            for (std::size_t b = 0; b < full; ++b) {
                for (std::size_t t = b * B; t < (b + 1) * B; ++t)
                    h = splitmix64::mix(h ^ (q.ids[t] + splitmix64::golden));
                if (b < usable) {
                    auto it = seen.find(h);
                    if (it != seen.end() &&
                        std::equal(q.ids.begin(), q.ids.begin() + std::ptrdiff_t((b + 1) * B),
                                   all[it->second].ids.begin())) {
                        best = b + 1;
                        owner = std::ptrdiff_t(it->second);
                    }
                }
                seen.try_emplace(h, k);
            }
            if (owner >= 0) {
                q.owner = owner;
                q.shared = best * B;
                ++all[std::size_t(owner)].dependents;
            }
        }
    }
    for (auto& q : all)
        if (pool.blocks_for(q.ids.size()) > pool.total_blocks()) {
            // Cannot happen while max_context() <= the pool's capacity; kept as a guard.
            throw argument_error("score_ids: a sequence needs more KV cache than the budget");
        }

    std::deque<std::size_t> waiting;
    for (std::size_t k = 0; k < all.size(); ++k) waiting.push_back(k);
    std::vector<std::size_t> running;
    std::vector<forward_seq> pass;
    std::vector<std::vector<output_request>> outs;
    std::vector<std::size_t> in_pass;
    std::vector<std::size_t> chunk_of;

    auto finish_owner_blocks = [&](seq& q) {
        if (q.done && q.dependents == 0) pool.drop(q.blocks);
    };
    while (!waiting.empty() || !running.empty()) {
        if (ctx.cancelled()) break;
        std::size_t budget = p_->pass_tokens;
        in_pass.clear();
        chunk_of.clear();
        for (std::size_t k : running) {
            if (budget == 0) break;
            const std::size_t c = std::min(all[k].ids.size() - all[k].cached, budget);
            in_pass.push_back(k);
            chunk_of.push_back(c);
            budget -= c;
        }
        // Admit waiting sequences (input order; a dependent waits until its owner has
        // computed the shared blocks; the first that does not fit in memory stops admission).
        for (auto it = waiting.begin(); it != waiting.end() && budget > 0 &&
                                        running.size() < std::max<std::size_t>(p_->max_batch, 1);) {
            seq& q = all[*it];
            if (q.owner >= 0) {
                seq& o = all[std::size_t(q.owner)];
                if (!o.admitted || o.cached < q.shared) {
                    ++it;
                    continue;
                }
            }
            const std::size_t own = pool.blocks_for(q.ids.size()) - q.shared / B;
            if (own > pool.free_blocks()) break;
            if (q.owner >= 0) {
                seq& o = all[std::size_t(q.owner)];
                q.blocks.assign(o.blocks.begin(), o.blocks.begin() + std::ptrdiff_t(q.shared / B));
                pool.retain(q.blocks);
                q.cached = q.shared;
                --o.dependents;
                finish_owner_blocks(o);
            }
            pool.grow(q.blocks, q.ids.size());
            q.admitted = true;
            const std::size_t c = std::min(q.ids.size() - q.cached, budget);
            running.push_back(*it);
            in_pass.push_back(*it);
            chunk_of.push_back(c);
            budget -= c;
            it = waiting.erase(it);
        }
        if (in_pass.empty()) {
            // Nothing fits: finished owners hold blocks for dependents that cannot be admitted.
            // Give up sharing for those and recompute their prefixes.
            bool freed = false;
            for (auto& q : all)
                if (q.done && q.dependents > 0) {
                    q.dependents = 0;
                    finish_owner_blocks(q);
                    freed = true;
                }
            for (std::size_t k : waiting)
                if (all[k].owner >= 0 && all[std::size_t(all[k].owner)].done &&
                    all[std::size_t(all[k].owner)].blocks.empty())
                    all[k].owner = -1, all[k].shared = 0;
            if (!freed) throw std::logic_error("score_ids: scheduler made no progress");
            continue;
        }
        pass.assign(in_pass.size(), forward_seq{});
        outs.resize(in_pass.size());
        for (std::size_t j = 0; j < in_pass.size(); ++j) {
            seq& q = all[in_pass[j]];
            const std::size_t a = q.cached, b = a + chunk_of[j];
            requests(q, a, b, outs[j]);
            pass[j].ids = std::span<const token_id>(q.ids).subspan(a, b - a);
            pass[j].pos0 = a;
            pass[j].blocks = q.blocks;
            pass[j].outputs = outs[j];
        }
        dev_->forward(pass);
        for (std::size_t j = 0; j < in_pass.size(); ++j) {
            seq& q = all[in_pass[j]];
            q.cached += chunk_of[j];
            tokens_done += chunk_of[j];
            if (q.cached == q.ids.size()) {
                q.done = true;
                ++items_done;
                finish_owner_blocks(q);
            }
        }
        std::erase_if(running, [&](std::size_t k) { return all[k].done; });
        meter.update(items_done, tokens_done);
    }
    for (auto& q : all) pool.drop(q.blocks);
    meter.update(items_done, tokens_done, true);
}

// ---- GENERATE -----------------------------------------------------------------------------------

std::vector<generated> lm_runtime::generate(std::span<const std::vector<token_id>> prompts,
                                            const generate_options& o,
                                            const plugin_sdk::call_context& ctx) {
    if (!no_generate_.empty()) throw unsupported_error(no_generate_);
    if (o.max_new_tokens == 0) throw argument_error("generate: max_new_tokens must be at least 1");
    if (!(o.sampling.repetition_penalty > 0.0f))
        throw argument_error("generate: repetition_penalty must be positive");
    if (std::isnan(o.sampling.temperature) || std::isnan(o.sampling.top_p) ||
        std::isnan(o.sampling.min_p))
        throw argument_error("generate: temperature, top_p and min_p must be numbers");
    const std::size_t n = prompts.size();
    std::vector<generated> out(n);
    const standin::stop_strings stops(o.stop);
    std::vector<token_id> ends = o.stop_ids;
    if (!o.ignore_eos) ends.insert(ends.end(), special_.eos.begin(), special_.eos.end());
    std::sort(ends.begin(), ends.end());

    struct seq {
        std::size_t index = 0;
        std::vector<token_id> tokens;  // prompt, then generated
        std::size_t prompt_len = 0;
        std::size_t cached = 0;
        std::vector<std::uint32_t> blocks;
        std::optional<sampler> smp;
        std::optional<standin::stream_decoder> dec;
        std::optional<standin::stop_matcher> stop;
        bool done = false;
        std::size_t logits_slot = 0;
    };
    std::vector<seq> all;
    all.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& pr = prompts[i];
        generated& g = out[i];
        g.prompt_tokens = std::uint32_t(std::min<std::size_t>(pr.size(), UINT32_MAX));
        std::string why;
        if (pr.empty())
            why = "empty prompt (no tokens)";
        else if (pr.size() >= max_context_)
            why = "prompt of " + std::to_string(pr.size()) +
                  " tokens leaves no room to generate in the context of " +
                  std::to_string(max_context_) + " tokens";
        else
            for (std::size_t p = 0; p < pr.size(); ++p)
                if (pr[p] >= vocab_) {
                    why = "token id " + std::to_string(pr[p]) + " at position " +
                          std::to_string(p) + " is outside the vocabulary (" +
                          std::to_string(vocab_) + " ids)";
                    break;
                }
        if (!why.empty()) {
            g.failed = true;
            ctx.item_failed(i, POLYGLOT_STATUS_INVALID_ARGUMENT, why);
            continue;
        }
        seq q;
        q.index = i;
        q.tokens = pr;
        q.prompt_len = pr.size();
        all.push_back(std::move(q));
    }
    // Per-sequence state is built in parallel (stream decoders read the prompt's tail).
    dev_->parallel_for(all.size(), [&](std::size_t k) {
        seq& q = all[k];
        q.smp.emplace(o.sampling, o.seed, o.first_index + q.index);
        q.smp->observe(q.tokens);
        q.dec.emplace(*p_->detok, !o.keep_special, q.tokens);
        q.stop.emplace(stops);
    });

    kv_pool& pool = p_->pool;
    const std::size_t V = vocab_;
    const std::size_t max_running = std::max<std::size_t>(p_->max_batch, 1);
    std::vector<float> logits;  // one row per sequence sampled in a pass
    std::deque<std::size_t> waiting;
    for (std::size_t k = 0; k < all.size(); ++k) waiting.push_back(k);
    std::vector<std::size_t> running;  // admission order
    std::vector<forward_seq> pass;
    std::vector<std::vector<output_request>> outs;
    std::vector<std::size_t> in_pass, chunk_of, sampled;
    progress_meter meter(ctx, n);
    std::uint64_t tokens_done = 0, items_done = n - all.size();

    auto preempt = [&](std::size_t k) {
        seq& q = all[k];
        pool.drop(q.blocks);
        q.cached = 0;
        std::erase(running, k);
        waiting.push_front(k);
    };
    auto finish = [&](seq& q, std::int32_t reason) {
        generated& g = out[q.index];
        if (reason != POLYGLOT_FINISH_STOP) {
            const std::string rest = q.dec->finish();
            if (q.stop->feed(rest).stopped) reason = POLYGLOT_FINISH_STOP;
            (void)q.stop->flush();
        }
        g.text = q.stop->text();
        g.finish_reason = reason;
        g.ids.assign(q.tokens.begin() + std::ptrdiff_t(q.prompt_len), q.tokens.end());
        q.done = true;
        pool.drop(q.blocks);
        q.dec.reset();
        q.stop.reset();
    };

    while (!waiting.empty() || !running.empty()) {
        if (ctx.cancelled()) break;
        std::size_t budget = p_->pass_tokens;
        in_pass.clear();
        chunk_of.clear();
        // Decoding sequences first (one token each), then prefill chunks, in admission order.
        std::vector<std::size_t> order;
        for (std::size_t k : running)
            if (all[k].tokens.size() - all[k].cached == 1) order.push_back(k);
        for (std::size_t k : running)
            if (all[k].tokens.size() - all[k].cached > 1) order.push_back(k);
        auto is_running = [&](std::size_t k) {
            return std::find(running.begin(), running.end(), k) != running.end();
        };
        for (std::size_t k : order) {
            if (budget == 0) break;
            if (!is_running(k)) continue;  // preempted earlier in this loop
            seq& q = all[k];
            const std::size_t c = std::min(q.tokens.size() - q.cached, budget);
            // Blocks for the chunk; when the pool is short, preempt the most recently admitted
            // sequence that is not in this pass yet (possibly q itself).
            while (!pool.grow(q.blocks, q.cached + c)) {
                std::size_t victim = k;
                for (auto it = running.rbegin(); it != running.rend(); ++it)
                    if (std::find(in_pass.begin(), in_pass.end(), *it) == in_pass.end()) {
                        victim = *it;
                        break;
                    }
                preempt(victim);
                if (victim == k) break;
            }
            if (!is_running(k)) continue;
            in_pass.push_back(k);
            chunk_of.push_back(c);
            budget -= c;
        }
        while (budget > 0 && !waiting.empty() && running.size() < max_running) {
            const std::size_t k = waiting.front();
            seq& q = all[k];
            const std::size_t c = std::min(q.tokens.size() - q.cached, budget);
            if (!pool.grow(q.blocks, q.cached + c)) break;
            waiting.pop_front();
            running.push_back(k);
            in_pass.push_back(k);
            chunk_of.push_back(c);
            budget -= c;
        }
        if (in_pass.empty()) throw std::logic_error("generate: scheduler made no progress");
        pass.assign(in_pass.size(), forward_seq{});
        outs.resize(in_pass.size());
        sampled.clear();
        for (std::size_t j = 0; j < in_pass.size(); ++j) {
            seq& q = all[in_pass[j]];
            const std::size_t a = q.cached, b = a + chunk_of[j];
            outs[j].clear();
            if (b == q.tokens.size()) {
                q.logits_slot = sampled.size();
                sampled.push_back(in_pass[j]);
                output_request r;
                r.row = std::uint32_t(b - a - 1);
                r.target = -1;
                outs[j].push_back(r);
            }
            pass[j].ids = std::span<const token_id>(q.tokens).subspan(a, b - a);
            pass[j].pos0 = a;
            pass[j].blocks = q.blocks;
            pass[j].outputs = outs[j];
        }
        if (logits.size() < sampled.size() * V) logits.resize(sampled.size() * V);
        for (std::size_t j = 0; j < in_pass.size(); ++j)
            if (!outs[j].empty())
                outs[j][0].logits = logits.data() + all[in_pass[j]].logits_slot * V;
        dev_->forward(pass);
        for (std::size_t j = 0; j < in_pass.size(); ++j) {
            all[in_pass[j]].cached += chunk_of[j];
            tokens_done += chunk_of[j];
        }
        // Sample, detokenize and check the stop conditions, per sequence in parallel.
        dev_->parallel_for(sampled.size(), [&](std::size_t s) {
            seq& q = all[sampled[s]];
            generated& g = out[q.index];
            std::span<const float> l(logits.data() + q.logits_slot * V, V);
            const token_id t = q.smp->sample(l);
            if (o.logprobs) g.logprobs.push_back(log_softmax_at(l.data(), V, t));
            q.tokens.push_back(t);
            q.smp->observe(t);
            const std::size_t produced = q.tokens.size() - q.prompt_len;
            if (std::binary_search(ends.begin(), ends.end(), t)) {
                q.done = true;
                g.finish_reason = POLYGLOT_FINISH_EOS;
                return;
            }
            if (q.stop->feed(q.dec->push(t)).stopped) {
                q.done = true;
                g.finish_reason = POLYGLOT_FINISH_STOP;
                return;
            }
            if (produced >= o.max_new_tokens || q.tokens.size() >= max_context_) {
                q.done = true;
                g.finish_reason = POLYGLOT_FINISH_LENGTH;
            }
        });
        for (std::size_t k : sampled) {
            seq& q = all[k];
            if (!q.done) continue;
            finish(q, out[q.index].finish_reason);
            ++items_done;
        }
        std::erase_if(running, [&](std::size_t k) { return all[k].done; });
        meter.update(items_done, tokens_done);
    }
    for (auto& q : all) pool.drop(q.blocks);
    meter.update(items_done, tokens_done, true);
    return out;
}

}  // namespace runtime
POLYGLOT_END_NAMESPACE
