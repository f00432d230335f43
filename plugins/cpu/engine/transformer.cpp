// SPDX-License-Identifier: Apache-2.0
#include "engine/transformer.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/blocked_range2d.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <polyglot/core/error.hpp>

#include "common/runtime/weights.hpp"
#include "common/safetensors.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace engine {

namespace {

using cmat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using rmat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using cmap = Eigen::Map<cmat, 0, Eigen::OuterStride<>>;
using ccmap = Eigen::Map<const cmat, 0, Eigen::OuterStride<>>;
using crmap = Eigen::Map<const rmat>;

constexpr std::ptrdiff_t token_block = 64;         // token columns per GEMM tile (multiple of 4)
constexpr std::ptrdiff_t row_block = 256;          // weight rows per GEMM tile (multiple of 8)
constexpr std::ptrdiff_t query_block = 256;        // queries per attention tile (uncached)
constexpr std::ptrdiff_t cached_query_block = 32;  // queries per attention task (cached)

std::ptrdiff_t round_up4(std::ptrdiff_t n) { return (n + 3) / 4 * 4; }

/// A column-major activation matrix: `rows` floats per token, tokens as columns.
struct act_buf {
    std::ptrdiff_t rows = 0, cols = 0;
    std::vector<float> data;
    void resize(std::ptrdiff_t r, std::ptrdiff_t c) {
        rows = r;
        cols = c;
        data.assign(std::size_t(r * c), 0.0f);
    }
    float* col(std::ptrdiff_t j) { return data.data() + j * rows; }
    const float* col(std::ptrdiff_t j) const { return data.data() + j * rows; }
};

struct linear {
    std::int64_t out = 0, in = 0;
    std::vector<float> w;  // [out, in] row-major
    std::vector<float> b;  // [out] or empty
};

/// Y[:, 0:cols) = W X (+ b): tiles of (row_block weight rows × token_block tokens), so a token's
/// result depends only on the weight (see the file comment of transformer.hpp).
void matmul(const linear& l, const act_buf& x, act_buf& y, std::ptrdiff_t cols) {
    const std::ptrdiff_t out = l.out, in = l.in;
    const std::ptrdiff_t nrb = (out + row_block - 1) / row_block;
    const std::ptrdiff_t ntb = (cols + token_block - 1) / token_block;
    oneapi::tbb::parallel_for(
        oneapi::tbb::blocked_range2d<std::ptrdiff_t>(0, nrb, 1, 0, ntb, 1),
        [&](const oneapi::tbb::blocked_range2d<std::ptrdiff_t>& r) {
            for (auto rb = r.rows().begin(); rb != r.rows().end(); ++rb)
                for (auto tb = r.cols().begin(); tb != r.cols().end(); ++tb) {
                    const std::ptrdiff_t r0 = rb * row_block, nr = std::min(row_block, out - r0);
                    const std::ptrdiff_t c0 = tb * token_block,
                                         nc = std::min(token_block, cols - c0);
                    crmap W(l.w.data() + r0 * in, nr, in);
                    ccmap X(x.col(c0), in, nc, Eigen::OuterStride<>(x.rows));
                    cmap Y(y.col(c0) + r0, nr, nc, Eigen::OuterStride<>(y.rows));
                    Y.noalias() = W * X;
                    if (!l.b.empty())
                        Y.colwise() += Eigen::Map<const Eigen::VectorXf>(l.b.data() + r0, nr);
                }
        },
        oneapi::tbb::simple_partitioner());
}

/// Runs f(j) for every column j in [0, cols) in parallel (column-local work only).
template <class F>
void for_columns(std::ptrdiff_t cols, F&& f) {
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<std::ptrdiff_t>(0, cols, 16),
                              [&](const oneapi::tbb::blocked_range<std::ptrdiff_t>& r) {
                                  for (auto j = r.begin(); j != r.end(); ++j) f(j);
                              });
}

/// RMSNorm of n floats: x * rsqrt(mean(x²) + eps) * w, in f32 (mean accumulated in double).
inline void rms_norm(const float* x, const float* w, std::ptrdiff_t n, float eps, float* out) {
    double ss = 0;
    for (std::ptrdiff_t i = 0; i < n; ++i) ss += double(x[i]) * double(x[i]);
    const float var = float(ss / double(n));
    const float r = 1.0f / std::sqrt(var + eps);
    for (std::ptrdiff_t i = 0; i < n; ++i) out[i] = (x[i] * r) * w[i];
}

inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
inline float gelu_tanh(float x) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}
inline float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f)); }

/// Dot product with a fixed accumulation order (8 independent lanes, then a fixed tree): the
/// same rounding whatever the call site, so cached attention is reproducible.
inline float dot(const float* a, const float* b, std::ptrdiff_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
    float tail = 0;
    for (; i < n; ++i) tail += a[i] * b[i];
    return (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))) +
           tail;
}

}  // namespace

// ---- weights ----------------------------------------------------------------------------------

struct transformer::weights {
    model::model_config cfg;
    model::dtype stored = model::dtype::f32;
    std::size_t params = 0;
    std::vector<float> embed;  // [vocab, hidden]
    linear lm_head;            // empty w when tied (embed is used)
    bool has_head = false;
    std::vector<float> final_norm;
    struct layer {
        std::vector<float> in_norm, post_attn_norm, pre_ff_norm, post_ff_norm, q_norm, k_norm;
        linear qkv, o, gate_up, down;
    };
    std::vector<layer> layers;
    std::vector<float> inv_freq_full, inv_freq_sliding;

    const float* head_w() const { return lm_head.w.empty() ? embed.data() : lm_head.w.data(); }
};

/// Threads and the KV cache.
struct transformer::state {
    std::unique_ptr<oneapi::tbb::task_arena> arena;
    std::size_t pass_tokens = 4096;
    std::size_t blocks = 0;
    // K and V of every layer: [layer][block][kv head][token in block][head_dim]. Allocated
    // without initialisation, so pages are only committed when blocks are used.
    std::unique_ptr<float[]> k, v;
    std::size_t layer_stride = 0, block_stride = 0;

    template <class F>
    void in_arena(F&& f) const {
        if (arena)
            arena->execute(f);
        else
            f();
    }
};

namespace {

struct loader {
    const model::weight_set& ws;
    std::size_t& params;

    std::vector<float> tensor(const std::string& name, std::initializer_list<std::int64_t> shape) {
        const auto& t = ws.get(name, shape);
        std::vector<float> v(std::size_t(t.numel()));
        model::to_float(t, v.data());
        params += v.size();
        return v;
    }
    std::vector<float> norm(const model::norm_tensor& n) {
        auto v = model::norm_weights(ws, n);
        params += v.size();
        return v;
    }
    std::vector<float> norm(const std::optional<model::norm_tensor>& n) {
        return n ? norm(*n) : std::vector<float>{};
    }
    /// Several projections stacked row-wise into one GEMM.
    linear stacked(const model::linear_tensors& spec) {
        linear l;
        l.in = spec.in;
        for (std::size_t i = 0; i < spec.names.size(); ++i) {
            auto w = tensor(spec.names[i] + ".weight", {spec.outs[i], spec.in});
            l.w.insert(l.w.end(), w.begin(), w.end());
            if (spec.bias) {
                auto b = tensor(spec.names[i] + ".bias", {spec.outs[i]});
                l.b.insert(l.b.end(), b.begin(), b.end());
            }
            l.out += spec.outs[i];
        }
        return l;
    }
};

std::string json_escape(std::string_view s) {
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

transformer::transformer(std::unique_ptr<weights> w, const options& o)
    : w_(std::move(w)), s_(std::make_unique<state>()) {
    if (o.threads > 0) s_->arena = std::make_unique<oneapi::tbb::task_arena>(int(o.threads));
    s_->pass_tokens = o.pass_tokens ? o.pass_tokens : 4096;
}
transformer::~transformer() = default;

const model::model_config& transformer::config() const noexcept { return w_->cfg; }
bool transformer::has_lm_head() const noexcept { return w_->has_head; }
std::size_t transformer::parameter_count() const noexcept { return w_->params; }
std::size_t transformer::pass_tokens() const noexcept { return s_->pass_tokens; }
std::string transformer::weight_dtype() const {
    switch (w_->stored) {
        case model::dtype::bf16:
            return "bf16";
        case model::dtype::f16:
            return "f16";
        case model::dtype::f64:
            return "f64";
        default:
            return "f32";
    }
}

std::string transformer::describe_json() const {
    const int threads =
        s_->arena ? s_->arena->max_concurrency() : oneapi::tbb::this_task_arena::max_concurrency();
    return "\"backend\": \"cpu\", \"device\": \"cpu\", \"threads\": " + std::to_string(threads) +
           ", \"dtype\": \"" + weight_dtype() +
           "\", \"compute\": \"f32\", \"parameters\": " + std::to_string(w_->params) +
           ", \"config\": \"" + json_escape(w_->cfg.file.string()) + "\"";
}

std::size_t transformer::kv_bytes_per_token() const noexcept {
    const auto& c = w_->cfg;
    return std::size_t(2 * c.num_layers * c.num_kv_heads * c.head_dim) * sizeof(float);
}

void transformer::kv_reserve(std::size_t blocks) {
    const auto& c = w_->cfg;
    s_->blocks = blocks;
    s_->block_stride = std::size_t(c.num_kv_heads * c.head_dim) * block_tokens;
    s_->layer_stride = s_->block_stride * blocks;
    const std::size_t n = s_->layer_stride * std::size_t(c.num_layers);
    s_->k.reset(n ? new float[n] : nullptr);
    s_->v.reset(n ? new float[n] : nullptr);
}

void transformer::parallel_for(std::size_t n, const std::function<void(std::size_t)>& f) const {
    s_->in_arena(
        [&] { oneapi::tbb::parallel_for(std::size_t(0), n, [&](std::size_t i) { f(i); }); });
}

void transformer::forward(std::span<const runtime::forward_seq> batch) {
    s_->in_arena([&] { run(batch); });
}

std::unique_ptr<transformer> transformer::load(const std::filesystem::path& dir, const options& o) {
    auto w = std::make_unique<weights>();
    w->cfg = model::load_model_config(dir);
    const auto& c = w->cfg;
    auto ws = model::weight_set::open(dir);
    w->stored = ws.main_dtype();
    const auto layout = model::text_model_layout(c, ws, o.need_lm_head);
    loader ld{ws, w->params};
    w->embed = ld.tensor(layout.embed, {c.vocab_size, c.hidden_size});
    w->final_norm = ld.norm(layout.final_norm);
    for (const auto& spec : layout.layers) {
        weights::layer L;
        L.in_norm = ld.norm(spec.in_norm);
        L.post_attn_norm = ld.norm(spec.post_attn_norm);
        L.pre_ff_norm = ld.norm(spec.pre_ff_norm);
        L.post_ff_norm = ld.norm(spec.post_ff_norm);
        L.q_norm = ld.norm(spec.q_norm);
        L.k_norm = ld.norm(spec.k_norm);
        L.qkv = ld.stacked(spec.qkv);
        L.o = ld.stacked(spec.o);
        L.gate_up = ld.stacked(spec.gate_up);
        L.down = ld.stacked(spec.down);
        w->layers.push_back(std::move(L));
    }
    if (layout.lm_head) w->lm_head = ld.stacked(*layout.lm_head);
    w->has_head = layout.has_head;
    w->inv_freq_full = model::rope_inv_freq(c.rope_full, c.head_dim);
    w->inv_freq_sliding = model::rope_inv_freq(c.rope_sliding, c.head_dim);
    // Eigen reads the CPU's cache sizes once, lazily: do it here, on one thread.
    {
        Eigen::MatrixXf a = Eigen::MatrixXf::Ones(8, 8), b = a * a;
        (void)b;
    }
    return std::unique_ptr<transformer>(new transformer(std::move(w), o));
}

// ---- forward ----------------------------------------------------------------------------------

void transformer::run(std::span<const runtime::forward_seq> batch) {
    const weights& W = *w_;
    const state& S = *s_;
    const auto& c = W.cfg;
    const std::ptrdiff_t d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    const std::ptrdiff_t inter = c.intermediate_size, V = c.vocab_size;
    const float eps = float(c.rms_norm_eps);
    const std::ptrdiff_t B = std::ptrdiff_t(block_tokens);

    // Pack the sequences: sequence s occupies columns [start[s], start[s] + len[s]).
    std::vector<std::size_t> seqs;
    std::vector<std::ptrdiff_t> start;
    std::ptrdiff_t T = 0;
    bool any_cached = false;
    for (std::size_t s = 0; s < batch.size(); ++s) {
        const auto& rq = batch[s];
        if (rq.ids.empty()) continue;
        for (auto id : rq.ids)
            if (std::int64_t(id) >= c.vocab_size)
                throw argument_error("token id " + std::to_string(id) +
                                     " is outside the vocabulary (" + std::to_string(c.vocab_size) +
                                     ") of " + c.file.string());
        if (rq.blocks.empty()) {
            if (rq.pos0 != 0) throw std::logic_error("forward: pos0 > 0 needs KV blocks");
        } else {
            if (rq.blocks.size() * block_tokens < rq.pos0 + rq.ids.size())
                throw std::logic_error("forward: the block table is too short");
            for (auto b : rq.blocks)
                if (b >= S.blocks) throw std::logic_error("forward: KV block out of range");
            if (c.bidirectional) throw std::logic_error("forward: no KV cache for encoders");
            any_cached = true;
        }
        seqs.push_back(s);
        start.push_back(T);
        T += std::ptrdiff_t(rq.ids.size());
    }
    if (seqs.empty()) return;
    const std::ptrdiff_t Tp = round_up4(T);  // zero columns up to a multiple of 4
    // Column → (sequence, absolute position).
    std::vector<std::size_t> col_seq(static_cast<std::size_t>(T));
    std::vector<std::ptrdiff_t> pos(static_cast<std::size_t>(T));
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        const auto& rq = batch[seqs[k]];
        for (std::ptrdiff_t i = 0; i < std::ptrdiff_t(rq.ids.size()); ++i) {
            col_seq[std::size_t(start[k] + i)] = k;
            pos[std::size_t(start[k] + i)] = std::ptrdiff_t(rq.pos0) + i;
        }
    }

    // RoPE cos/sin per column and layer kind [T, hd/2].
    const std::ptrdiff_t half = hd / 2;
    std::vector<float> cos_full(std::size_t(T * half)), sin_full(cos_full.size()),
        cos_slide(cos_full.size()), sin_slide(cos_full.size());
    for_columns(T, [&](std::ptrdiff_t j) {
        const auto o = std::size_t(j * half);
        model::rope_cos_sin(W.inv_freq_full, pos[std::size_t(j)], &cos_full[o], &sin_full[o]);
        model::rope_cos_sin(W.inv_freq_sliding, pos[std::size_t(j)], &cos_slide[o], &sin_slide[o]);
    });

    // Embeddings.
    act_buf x, xn, qkv, attn, tmp, gu, act;
    x.resize(d, Tp);
    const float scale = c.scale_embeddings ? float(std::sqrt(double(d))) : 1.0f;
    for_columns(T, [&](std::ptrdiff_t j) {
        const auto k = col_seq[std::size_t(j)];
        const token_id id = batch[seqs[k]].ids[std::size_t(j - start[k])];
        const float* e = W.embed.data() + std::ptrdiff_t(id) * d;
        float* o = x.col(j);
        for (std::ptrdiff_t i = 0; i < d; ++i) o[i] = e[i] * scale;
    });
    xn.resize(d, Tp);
    qkv.resize((H + 2 * KV) * hd, Tp);
    attn.resize(H * hd, Tp);
    tmp.resize(d, Tp);
    gu.resize(2 * inter, Tp);
    act.resize(inter, Tp);

    // Attention work: (sequence, head, query block) tasks.
    struct task {
        std::size_t k;
        std::ptrdiff_t h, q0;
    };
    std::vector<task> tasks;
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        const auto& rq = batch[seqs[k]];
        const auto n = std::ptrdiff_t(rq.ids.size());
        const std::ptrdiff_t qb = rq.blocks.empty() ? query_block : cached_query_block;
        for (std::ptrdiff_t h = 0; h < H; ++h)
            for (std::ptrdiff_t q0 = 0; q0 < n; q0 += qb) tasks.push_back({k, h, q0});
    }

    const float attn_scale = float(c.attn_scale);
    const float softcap = c.attn_logit_softcap ? float(*c.attn_logit_softcap) : 0.0f;
    for (std::size_t li = 0; li < W.layers.size(); ++li) {
        const auto& L = W.layers[li];
        const bool sliding = c.layer_types[li] == model::attention_kind::sliding;
        const auto& cs = sliding ? cos_slide : cos_full;
        const auto& sn = sliding ? sin_slide : sin_full;
        for_columns(
            T, [&](std::ptrdiff_t j) { rms_norm(x.col(j), L.in_norm.data(), d, eps, xn.col(j)); });
        matmul(L.qkv, xn, qkv, Tp);
        // q/k norms and RoPE, per token and head; keys and values of cached sequences go to
        // their KV blocks.
        float* const kc = S.k ? S.k.get() + li * S.layer_stride : nullptr;
        float* const vc = S.v ? S.v.get() + li * S.layer_stride : nullptr;
        for_columns(T, [&](std::ptrdiff_t j) {
            float* col = qkv.col(j);
            const float* cp = cs.data() + j * half;
            const float* sp = sn.data() + j * half;
            for (std::ptrdiff_t h = 0; h < H + KV; ++h) {
                float* v = col + h * hd;
                if (c.qk_norm) rms_norm(v, h < H ? L.q_norm.data() : L.k_norm.data(), hd, eps, v);
                for (std::ptrdiff_t i = 0; i < half; ++i) {
                    const float a = v[i], b = v[i + half];
                    v[i] = a * cp[i] - b * sp[i];
                    v[i + half] = b * cp[i] + a * sp[i];
                }
            }
            const auto& rq = batch[seqs[col_seq[std::size_t(j)]]];
            if (!rq.blocks.empty()) {
                const std::ptrdiff_t p = pos[std::size_t(j)];
                const std::size_t off =
                    rq.blocks[std::size_t(p / B)] * S.block_stride + std::size_t((p % B) * hd);
                for (std::ptrdiff_t g = 0; g < KV; ++g) {
                    const std::size_t o = off + std::size_t(g * B * hd);
                    std::copy_n(col + (H + g) * hd, hd, kc + o);
                    std::copy_n(col + (H + KV + g) * hd, hd, vc + o);
                }
            }
        });
        const std::ptrdiff_t win = sliding ? c.sliding_window : 0;
        oneapi::tbb::parallel_for(
            oneapi::tbb::blocked_range<std::size_t>(0, tasks.size(), 1),
            [&](const oneapi::tbb::blocked_range<std::size_t>& r) {
                std::vector<float> Sv;
                for (auto t = r.begin(); t != r.end(); ++t) {
                    const auto [k, h, q0] = tasks[t];
                    const auto& rq = batch[seqs[k]];
                    const auto n = std::ptrdiff_t(rq.ids.size());
                    const std::ptrdiff_t g = h / (H / KV);
                    const std::ptrdiff_t base = start[k];
                    if (!rq.blocks.empty()) {
                        // Cached: one query at a time over its keys in position order.
                        const std::ptrdiff_t q1 = std::min(n, q0 + cached_query_block);
                        for (std::ptrdiff_t i = q0; i < q1; ++i) {
                            const std::ptrdiff_t P = std::ptrdiff_t(rq.pos0) + i;
                            const std::ptrdiff_t k0 =
                                win > 0 ? std::max<std::ptrdiff_t>(0, P - win + 1) : 0;
                            const std::ptrdiff_t nk = P + 1 - k0;
                            const float* q = qkv.col(base + i) + h * hd;
                            Sv.resize(std::size_t(nk));
                            float mx = -std::numeric_limits<float>::infinity();
                            for (std::ptrdiff_t jk = k0; jk <= P; ++jk) {
                                const float* kr = kc +
                                                  rq.blocks[std::size_t(jk / B)] * S.block_stride +
                                                  std::size_t((g * B + jk % B) * hd);
                                float v = dot(q, kr, hd) * attn_scale;
                                if (softcap > 0) v = std::tanh(v / softcap) * softcap;
                                Sv[std::size_t(jk - k0)] = v;
                                mx = std::max(mx, v);
                            }
                            double sum = 0;
                            for (auto& s : Sv) {
                                s = std::exp(s - mx);
                                sum += s;
                            }
                            const float inv = float(1.0 / sum);
                            float* o = attn.col(base + i) + h * hd;
                            std::fill_n(o, hd, 0.0f);
                            for (std::ptrdiff_t jk = k0; jk <= P; ++jk) {
                                const float pw = Sv[std::size_t(jk - k0)] * inv;
                                const float* vr = vc +
                                                  rq.blocks[std::size_t(jk / B)] * S.block_stride +
                                                  std::size_t((g * B + jk % B) * hd);
                                for (std::ptrdiff_t e = 0; e < hd; ++e) o[e] += pw * vr[e];
                            }
                        }
                        continue;
                    }
                    // Uncached: the whole sequence is in this pass; GEMMs per query block.
                    const std::ptrdiff_t q1 = std::min(n, q0 + query_block);
                    std::ptrdiff_t k0 = 0, k1 = c.bidirectional ? n : q1;
                    if (win > 0) {
                        k0 = std::max<std::ptrdiff_t>(0, q0 - win + 1);
                        if (c.bidirectional) k1 = std::min(n, q1 + win - 1);
                    }
                    const std::ptrdiff_t ld = qkv.rows;
                    ccmap Q(qkv.col(base + q0) + h * hd, hd, q1 - q0, Eigen::OuterStride<>(ld));
                    ccmap K(qkv.col(base + k0) + (H + g) * hd, hd, k1 - k0,
                            Eigen::OuterStride<>(ld));
                    ccmap Vv(qkv.col(base + k0) + (H + KV + g) * hd, hd, k1 - k0,
                             Eigen::OuterStride<>(ld));
                    const std::ptrdiff_t nk = k1 - k0, nq = q1 - q0;
                    Sv.resize(std::size_t(nk * nq));
                    cmap Sm(Sv.data(), nk, nq, Eigen::OuterStride<>(nk));
                    Sm.noalias() = K.transpose() * Q;
                    for (std::ptrdiff_t jq = 0; jq < nq; ++jq) {
                        const std::ptrdiff_t i = q0 + jq;
                        float* s = Sv.data() + jq * nk;
                        float mx = -std::numeric_limits<float>::infinity();
                        for (std::ptrdiff_t r2 = 0; r2 < nk; ++r2) {
                            const std::ptrdiff_t jk = k0 + r2;
                            bool ok = c.bidirectional ? true : jk <= i;
                            if (win > 0)
                                ok =
                                    ok && (c.bidirectional ? std::abs(i - jk) < win : i - jk < win);
                            if (!ok) {
                                s[r2] = -std::numeric_limits<float>::infinity();
                                continue;
                            }
                            float v = s[r2] * attn_scale;
                            if (softcap > 0) v = std::tanh(v / softcap) * softcap;
                            s[r2] = v;
                            mx = std::max(mx, v);
                        }
                        double sum = 0;
                        for (std::ptrdiff_t r2 = 0; r2 < nk; ++r2) {
                            const float e = s[r2] == -std::numeric_limits<float>::infinity()
                                                ? 0.0f
                                                : std::exp(s[r2] - mx);
                            s[r2] = e;
                            sum += e;
                        }
                        const float inv = float(1.0 / sum);
                        for (std::ptrdiff_t r2 = 0; r2 < nk; ++r2) s[r2] *= inv;
                    }
                    cmap O(attn.col(base + q0) + h * hd, hd, nq, Eigen::OuterStride<>(attn.rows));
                    O.noalias() = Vv * Sm;
                }
            });
        matmul(L.o, attn, tmp, Tp);
        if (c.sandwich_norms) {
            for_columns(T, [&](std::ptrdiff_t j) {
                float* t = tmp.col(j);
                rms_norm(t, L.post_attn_norm.data(), d, eps, t);
                float* o = x.col(j);
                for (std::ptrdiff_t i = 0; i < d; ++i) o[i] += t[i];
                rms_norm(o, L.pre_ff_norm.data(), d, eps, xn.col(j));
            });
        } else {
            for_columns(T, [&](std::ptrdiff_t j) {
                float* o = x.col(j);
                const float* t = tmp.col(j);
                for (std::ptrdiff_t i = 0; i < d; ++i) o[i] += t[i];
                rms_norm(o, L.pre_ff_norm.data(), d, eps, xn.col(j));
            });
        }
        matmul(L.gate_up, xn, gu, Tp);
        for_columns(T, [&](std::ptrdiff_t j) {
            const float* g = gu.col(j);
            const float* u = g + inter;
            float* a = act.col(j);
            switch (c.act) {
                case model::activation::silu:
                    for (std::ptrdiff_t i = 0; i < inter; ++i) a[i] = silu(g[i]) * u[i];
                    break;
                case model::activation::gelu_tanh:
                    for (std::ptrdiff_t i = 0; i < inter; ++i) a[i] = gelu_tanh(g[i]) * u[i];
                    break;
                case model::activation::gelu_erf:
                    for (std::ptrdiff_t i = 0; i < inter; ++i) a[i] = gelu_erf(g[i]) * u[i];
                    break;
            }
        });
        matmul(L.down, act, tmp, Tp);
        for_columns(T, [&](std::ptrdiff_t j) {
            float* t = tmp.col(j);
            if (c.sandwich_norms) rms_norm(t, L.post_ff_norm.data(), d, eps, t);
            float* o = x.col(j);
            for (std::ptrdiff_t i = 0; i < d; ++i) o[i] += t[i];
        });
    }
    (void)any_cached;
    // Final norm (into xn).
    for_columns(
        T, [&](std::ptrdiff_t j) { rms_norm(x.col(j), W.final_norm.data(), d, eps, xn.col(j)); });

    // Pooling (uncached sequences: the pass holds all their tokens).
    oneapi::tbb::parallel_for(std::size_t(0), seqs.size(), [&](std::size_t k) {
        const auto& rq = batch[seqs[k]];
        if (!rq.pooled || !rq.blocks.empty()) return;
        const auto n = std::ptrdiff_t(rq.ids.size());
        const std::ptrdiff_t base = start[k];
        switch (rq.pooling) {
            case model::pooling_mode::mean:
                for (std::ptrdiff_t i = 0; i < d; ++i) {
                    double s = 0;
                    for (std::ptrdiff_t t = 0; t < n; ++t) s += xn.col(base + t)[i];
                    rq.pooled[i] = float(s / double(n));
                }
                break;
            case model::pooling_mode::last:
                std::copy_n(xn.col(base + n - 1), d, rq.pooled);
                break;
            case model::pooling_mode::cls:
                std::copy_n(xn.col(base), d, rq.pooled);
                break;
            case model::pooling_mode::max:
                for (std::ptrdiff_t i = 0; i < d; ++i) {
                    float m = -std::numeric_limits<float>::infinity();
                    for (std::ptrdiff_t t = 0; t < n; ++t) m = std::max(m, xn.col(base + t)[i]);
                    rq.pooled[i] = m;
                }
                break;
        }
    });

    // Output projection only at the rows asked for.
    struct head_job {
        std::ptrdiff_t col;
        const runtime::output_request* rq;
    };
    std::vector<head_job> jobs;
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        const auto& rq = batch[seqs[k]];
        for (const auto& o : rq.outputs) {
            if (o.row >= rq.ids.size()) throw std::logic_error("forward: output row out of range");
            jobs.push_back({start[k] + std::ptrdiff_t(o.row), &o});
        }
    }
    if (jobs.empty()) return;
    if (!W.has_head)
        throw unsupported_error(c.file.string() + ": the model has no output projection (lm_head)");
    // Chunks of columns, ≤ ~64 MB of logits each; a multiple of 4 columns.
    const std::ptrdiff_t chunk = std::clamp<std::ptrdiff_t>(
        (std::ptrdiff_t(1) << 24) / std::max<std::ptrdiff_t>(V, 1) / 4 * 4, 16, 256);
    act_buf hs, logits;
    for (std::size_t j0 = 0; j0 < jobs.size(); j0 += std::size_t(chunk)) {
        const auto nj = std::ptrdiff_t(std::min(jobs.size() - j0, std::size_t(chunk)));
        const std::ptrdiff_t njp = round_up4(nj);
        hs.resize(d, njp);
        for (std::ptrdiff_t j = 0; j < nj; ++j)
            std::copy_n(xn.col(jobs[j0 + std::size_t(j)].col), d, hs.col(j));
        logits.resize(V, njp);
        {
            const float* hw = W.head_w();
            const std::ptrdiff_t nrb = (V + row_block * 4 - 1) / (row_block * 4);
            oneapi::tbb::parallel_for(
                oneapi::tbb::blocked_range<std::ptrdiff_t>(0, nrb, 1),
                [&](const oneapi::tbb::blocked_range<std::ptrdiff_t>& r) {
                    for (auto rb = r.begin(); rb != r.end(); ++rb) {
                        const std::ptrdiff_t r0 = rb * row_block * 4,
                                             nr = std::min(row_block * 4, V - r0);
                        crmap Wm(hw + r0 * d, nr, d);
                        ccmap X(hs.col(0), d, njp, Eigen::OuterStride<>(hs.rows));
                        cmap Y(logits.col(0) + r0, nr, njp, Eigen::OuterStride<>(logits.rows));
                        Y.noalias() = Wm * X;
                    }
                },
                oneapi::tbb::simple_partitioner());
        }
        for_columns(nj, [&](std::ptrdiff_t j) {
            const runtime::output_request& o = *jobs[j0 + std::size_t(j)].rq;
            float* l = logits.col(j);
            if (c.final_logit_softcap) {
                const float cap = float(*c.final_logit_softcap);
                for (std::ptrdiff_t i = 0; i < V; ++i) l[i] = std::tanh(l[i] / cap) * cap;
            }
            if (o.target < 0) {
                if (o.logits) std::copy_n(l, V, o.logits);
                return;
            }
            if (std::int64_t(o.target) >= V)
                throw std::logic_error("forward: target id out of range");
            if (o.logprob)
                *o.logprob = runtime::log_softmax_at(l, std::size_t(V), std::size_t(o.target));
            if (o.greedy) {
                const float best = *std::max_element(l, l + V);
                *o.greedy = l[o.target] >= best ? 1 : 0;
            }
        });
    }
}

}  // namespace engine
POLYGLOT_END_NAMESPACE
