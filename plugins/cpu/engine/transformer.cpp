// SPDX-License-Identifier: Apache-2.0
#include "engine/transformer.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/blocked_range2d.h>
#include <oneapi/tbb/parallel_for.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <polyglot/core/error.hpp>

#include "common/safetensors.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace engine {

namespace {

using cmat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using rmat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using cmap = Eigen::Map<cmat, 0, Eigen::OuterStride<>>;
using ccmap = Eigen::Map<const cmat, 0, Eigen::OuterStride<>>;
using crmap = Eigen::Map<const rmat>;

constexpr std::ptrdiff_t token_block = 64;   // token columns per GEMM tile (multiple of 4)
constexpr std::ptrdiff_t row_block = 256;    // weight rows per GEMM tile (multiple of 8)
constexpr std::ptrdiff_t query_block = 256;  // queries per attention tile

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

/// RoPE inverse frequencies as transformers computes them (f32).
std::vector<float> inv_freq(const model::rope_params& rp, std::int64_t dim) {
    std::vector<float> f(std::size_t(dim / 2));
    const float theta = float(rp.theta);
    for (std::int64_t i = 0; i < dim / 2; ++i) {
        const float e = float(2 * i) / float(dim);
        f[std::size_t(i)] = 1.0f / float(std::pow(double(theta), double(e)));
    }
    if (rp.type == "linear") {
        for (auto& v : f) v = v / float(rp.factor);
    } else if (rp.type == "llama3") {
        const double old_ctx = rp.original_max_position;
        const double low_wl = old_ctx / rp.low_freq_factor;
        const double high_wl = old_ctx / rp.high_freq_factor;
        const float factor = float(rp.factor);
        for (auto& v : f) {
            const float wavelen = (1.0f / v) * float(2 * std::numbers::pi);
            float inv = wavelen > low_wl ? v / factor : v;
            const float smooth = float((old_ctx / wavelen - rp.low_freq_factor) /
                                       (rp.high_freq_factor - rp.low_freq_factor));
            const float smoothed = (1.0f - smooth) * inv / factor + smooth * inv;
            const bool medium = !(wavelen < high_wl) && !(wavelen > low_wl);
            v = medium ? smoothed : inv;
        }
    }
    return f;
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

namespace {

struct loader {
    const model::weight_set& ws;
    std::string prefix;  // e.g. "model."
    std::size_t& params;

    std::vector<float> tensor(const std::string& name, std::initializer_list<std::int64_t> shape) {
        const auto& t = ws.get(name, shape);
        std::vector<float> v(std::size_t(t.numel()));
        model::to_float(t, v.data());
        params += v.size();
        return v;
    }
    /// Norm weight, pre-transformed to (1 + w) for Gemma.
    std::vector<float> norm(const std::string& name, std::int64_t n, bool plus_one) {
        auto v = tensor(name, {n});
        if (plus_one)
            for (auto& x : v) x = 1.0f + x;
        return v;
    }
    /// Several projections stacked row-wise into one GEMM.
    linear stacked(const std::vector<std::string>& names, const std::vector<std::int64_t>& outs,
                   std::int64_t in, bool bias) {
        linear l;
        l.in = in;
        for (std::size_t i = 0; i < names.size(); ++i) {
            auto w = tensor(names[i] + ".weight", {outs[i], in});
            l.w.insert(l.w.end(), w.begin(), w.end());
            if (bias) {
                auto b = tensor(names[i] + ".bias", {outs[i]});
                l.b.insert(l.b.end(), b.begin(), b.end());
            }
            l.out += outs[i];
        }
        return l;
    }
};

}  // namespace

transformer::transformer(std::unique_ptr<weights> w) : w_(std::move(w)) {}
transformer::~transformer() = default;

const model::model_config& transformer::config() const noexcept { return w_->cfg; }
bool transformer::has_lm_head() const noexcept { return w_->has_head; }
std::size_t transformer::parameter_count() const noexcept { return w_->params; }
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

std::unique_ptr<transformer> transformer::load(const std::filesystem::path& dir,
                                               bool need_lm_head) {
    auto w = std::make_unique<weights>();
    w->cfg = model::load_model_config(dir);
    const auto& c = w->cfg;
    auto ws = model::weight_set::open(dir);
    w->stored = ws.main_dtype();

    // Where the text model lives: "model." (ForCausalLM), "" (a bare text model, e.g. a
    // sentence-transformers Transformer module), or under a multimodal wrapper.
    std::string prefix;
    bool found = false;
    for (const char* p :
         {"model.", "", "model.language_model.", "language_model.model.", "language_model."})
        if (ws.find(std::string(p) + "embed_tokens.weight")) {
            prefix = p;
            found = true;
            break;
        }
    if (!found)
        throw format_error(ws.origin().string() +
                           ": no embed_tokens.weight under a known prefix (model., "
                           "model.language_model., language_model.model.): not a supported "
                           "text model");
    loader ld{ws, prefix, w->params};
    const auto d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    w->embed = ld.tensor(prefix + "embed_tokens.weight", {c.vocab_size, d});
    w->final_norm = ld.norm(prefix + "norm.weight", d, c.norm_plus_one);
    for (std::int64_t i = 0; i < c.num_layers; ++i) {
        const std::string p = prefix + "layers." + std::to_string(i) + ".";
        weights::layer L;
        L.in_norm = ld.norm(p + "input_layernorm.weight", d, c.norm_plus_one);
        if (c.sandwich_norms) {
            L.post_attn_norm = ld.norm(p + "post_attention_layernorm.weight", d, true);
            L.pre_ff_norm = ld.norm(p + "pre_feedforward_layernorm.weight", d, true);
            L.post_ff_norm = ld.norm(p + "post_feedforward_layernorm.weight", d, true);
        } else {
            L.pre_ff_norm = ld.norm(p + "post_attention_layernorm.weight", d, c.norm_plus_one);
        }
        if (c.qk_norm) {
            L.q_norm = ld.norm(p + "self_attn.q_norm.weight", hd, c.norm_plus_one);
            L.k_norm = ld.norm(p + "self_attn.k_norm.weight", hd, c.norm_plus_one);
        }
        L.qkv = ld.stacked({p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
                           {H * hd, KV * hd, KV * hd}, d, c.qkv_bias);
        L.o = ld.stacked({p + "self_attn.o_proj"}, {d}, H * hd, c.o_bias);
        L.gate_up = ld.stacked({p + "mlp.gate_proj", p + "mlp.up_proj"},
                               {c.intermediate_size, c.intermediate_size}, d, c.mlp_bias);
        L.down = ld.stacked({p + "mlp.down_proj"}, {d}, c.intermediate_size, c.mlp_bias);
        w->layers.push_back(std::move(L));
    }
    // Output projection: lm_head next to the text model, else tied to the embeddings.
    std::string head_name;
    for (std::string cand :
         {std::string("lm_head.weight"), std::string("language_model.lm_head.weight")})
        if (ws.find(cand)) {
            head_name = cand;
            break;
        }
    if (!head_name.empty() && !c.tie_word_embeddings) {
        w->lm_head =
            ld.stacked({head_name.substr(0, head_name.size() - 7)}, {c.vocab_size}, d, false);
        w->has_head = true;
    } else if (c.tie_word_embeddings) {
        w->has_head = true;
    } else if (need_lm_head) {
        throw format_error(ws.origin().string() +
                           ": missing tensor 'lm_head.weight' (tie_word_embeddings is false)");
    }
    w->inv_freq_full = inv_freq(c.rope_full, hd);
    w->inv_freq_sliding = inv_freq(c.rope_sliding, hd);
    // Eigen reads the CPU's cache sizes once, lazily: do it here, on one thread.
    {
        Eigen::MatrixXf a = Eigen::MatrixXf::Ones(8, 8), b = a * a;
        (void)b;
    }
    return std::unique_ptr<transformer>(new transformer(std::move(w)));
}

// ---- forward ----------------------------------------------------------------------------------

void transformer::run(std::span<const seq_request> batch) const {
    const weights& W = *w_;
    const auto& c = W.cfg;
    const std::ptrdiff_t d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    const std::ptrdiff_t inter = c.intermediate_size, V = c.vocab_size;
    const float eps = float(c.rms_norm_eps);

    // Pack the sequences: sequence s occupies columns [start[s], start[s] + len[s]).
    std::vector<std::size_t> seqs;
    std::vector<std::ptrdiff_t> start;
    std::ptrdiff_t T = 0, max_len = 0;
    for (std::size_t s = 0; s < batch.size(); ++s) {
        if (batch[s].ids.empty()) continue;
        for (auto id : batch[s].ids)
            if (std::int64_t(id) >= c.vocab_size)
                throw argument_error("token id " + std::to_string(id) +
                                     " is outside the vocabulary (" + std::to_string(c.vocab_size) +
                                     ") of " + c.file.string());
        seqs.push_back(s);
        start.push_back(T);
        T += std::ptrdiff_t(batch[s].ids.size());
        max_len = std::max(max_len, std::ptrdiff_t(batch[s].ids.size()));
    }
    if (seqs.empty()) return;
    const std::ptrdiff_t Tp = round_up4(T);  // zero columns up to a multiple of 4
    std::vector<std::ptrdiff_t> pos(std::size_t(Tp), 0);
    for (std::size_t k = 0; k < seqs.size(); ++k)
        for (std::ptrdiff_t i = 0; i < std::ptrdiff_t(batch[seqs[k]].ids.size()); ++i)
            pos[std::size_t(start[k] + i)] = i;

    // RoPE tables per layer kind: cos/sin [max_len, hd/2].
    const std::ptrdiff_t half = hd / 2;
    auto table = [&](const std::vector<float>& f, std::vector<float>& cs, std::vector<float>& sn) {
        cs.resize(std::size_t(max_len * half));
        sn.resize(std::size_t(max_len * half));
        for (std::ptrdiff_t p = 0; p < max_len; ++p)
            for (std::ptrdiff_t i = 0; i < half; ++i) {
                const float a = f[std::size_t(i)] * float(p);
                cs[std::size_t(p * half + i)] = float(std::cos(double(a)));
                sn[std::size_t(p * half + i)] = float(std::sin(double(a)));
            }
    };
    std::vector<float> cos_full, sin_full, cos_slide, sin_slide;
    table(W.inv_freq_full, cos_full, sin_full);
    table(W.inv_freq_sliding, cos_slide, sin_slide);

    // Embeddings.
    act_buf x, xn, qkv, attn, tmp, gu, act;
    x.resize(d, Tp);
    const float scale = c.scale_embeddings ? float(std::sqrt(double(d))) : 1.0f;
    for_columns(T, [&](std::ptrdiff_t j) {
        // j → (sequence, index): binary search in start
        auto k = std::size_t(std::upper_bound(start.begin(), start.end(), j) - start.begin() - 1);
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

    const float attn_scale = float(c.attn_scale);
    for (std::size_t li = 0; li < W.layers.size(); ++li) {
        const auto& L = W.layers[li];
        const bool sliding = c.layer_types[li] == model::attention_kind::sliding;
        const auto& cs = sliding ? cos_slide : cos_full;
        const auto& sn = sliding ? sin_slide : sin_full;
        for_columns(
            T, [&](std::ptrdiff_t j) { rms_norm(x.col(j), L.in_norm.data(), d, eps, xn.col(j)); });
        matmul(L.qkv, xn, qkv, Tp);
        // q/k norms and RoPE, per token and head.
        for_columns(T, [&](std::ptrdiff_t j) {
            float* col = qkv.col(j);
            const std::ptrdiff_t p = pos[std::size_t(j)];
            const float* cp = cs.data() + p * half;
            const float* sp = sn.data() + p * half;
            for (std::ptrdiff_t h = 0; h < H + KV; ++h) {
                float* v = col + h * hd;
                if (c.qk_norm) rms_norm(v, h < H ? L.q_norm.data() : L.k_norm.data(), hd, eps, v);
                for (std::ptrdiff_t i = 0; i < half; ++i) {
                    const float a = v[i], b = v[i + half];
                    v[i] = a * cp[i] - b * sp[i];
                    v[i + half] = b * cp[i] + a * sp[i];
                }
            }
        });
        // Attention per (sequence, head, query block).
        struct task {
            std::size_t k;
            std::ptrdiff_t h, q0;
        };
        std::vector<task> tasks;
        for (std::size_t k = 0; k < seqs.size(); ++k) {
            const auto n = std::ptrdiff_t(batch[seqs[k]].ids.size());
            for (std::ptrdiff_t h = 0; h < H; ++h)
                for (std::ptrdiff_t q0 = 0; q0 < n; q0 += query_block) tasks.push_back({k, h, q0});
        }
        const std::ptrdiff_t win = sliding ? c.sliding_window : 0;
        oneapi::tbb::parallel_for(
            oneapi::tbb::blocked_range<std::size_t>(0, tasks.size(), 1),
            [&](const oneapi::tbb::blocked_range<std::size_t>& r) {
                std::vector<float> S;
                for (auto t = r.begin(); t != r.end(); ++t) {
                    const auto [k, h, q0] = tasks[t];
                    const auto n = std::ptrdiff_t(batch[seqs[k]].ids.size());
                    const std::ptrdiff_t q1 = std::min(n, q0 + query_block);
                    std::ptrdiff_t k0 = 0, k1 = c.bidirectional ? n : q1;
                    if (win > 0) {
                        k0 = std::max<std::ptrdiff_t>(0, q0 - win + 1);
                        if (c.bidirectional) k1 = std::min(n, q1 + win - 1);
                    }
                    const std::ptrdiff_t g = h / (H / KV);
                    const std::ptrdiff_t base = start[k];
                    const std::ptrdiff_t ld = qkv.rows;
                    ccmap Q(qkv.col(base + q0) + h * hd, hd, q1 - q0, Eigen::OuterStride<>(ld));
                    ccmap K(qkv.col(base + k0) + (H + g) * hd, hd, k1 - k0,
                            Eigen::OuterStride<>(ld));
                    ccmap Vv(qkv.col(base + k0) + (H + KV + g) * hd, hd, k1 - k0,
                             Eigen::OuterStride<>(ld));
                    const std::ptrdiff_t nk = k1 - k0, nq = q1 - q0;
                    S.resize(std::size_t(nk * nq));
                    cmap Sm(S.data(), nk, nq, Eigen::OuterStride<>(nk));
                    Sm.noalias() = K.transpose() * Q;
                    for (std::ptrdiff_t jq = 0; jq < nq; ++jq) {
                        const std::ptrdiff_t i = q0 + jq;
                        float* s = S.data() + jq * nk;
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
                            if (c.attn_logit_softcap) {
                                const float cap = float(*c.attn_logit_softcap);
                                v = std::tanh(v / cap) * cap;
                            }
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
    // Final norm (into xn).
    for_columns(
        T, [&](std::ptrdiff_t j) { rms_norm(x.col(j), W.final_norm.data(), d, eps, xn.col(j)); });

    // Pooling.
    oneapi::tbb::parallel_for(std::size_t(0), seqs.size(), [&](std::size_t k) {
        const auto& rq = batch[seqs[k]];
        if (!rq.pooled) return;
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

    // Output projection only at the positions that are needed: (column, target, destination).
    struct head_job {
        std::ptrdiff_t col;
        std::int64_t target;  // -1: copy all logits to dest
        float* dest;
    };
    std::vector<head_job> jobs;
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        const auto& rq = batch[seqs[k]];
        const auto n = std::ptrdiff_t(rq.ids.size());
        if (rq.logprobs) {
            const std::ptrdiff_t from = std::max<std::ptrdiff_t>(std::ptrdiff_t(rq.score_from), 1);
            for (std::ptrdiff_t p = from; p < n; ++p)
                jobs.push_back({start[k] + p - 1, std::int64_t(rq.ids[std::size_t(p)]),
                                rq.logprobs + (p - from)});
        }
        if (rq.next_logits) jobs.push_back({start[k] + n - 1, -1, rq.next_logits});
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
            const head_job& job = jobs[j0 + std::size_t(j)];
            float* l = logits.col(j);
            if (c.final_logit_softcap) {
                const float cap = float(*c.final_logit_softcap);
                for (std::ptrdiff_t i = 0; i < V; ++i) l[i] = std::tanh(l[i] / cap) * cap;
            }
            if (job.target < 0) {
                std::copy_n(l, V, job.dest);
                return;
            }
            float mx = -std::numeric_limits<float>::infinity();
            for (std::ptrdiff_t i = 0; i < V; ++i) mx = std::max(mx, l[i]);
            double sum = 0;
            for (std::ptrdiff_t i = 0; i < V; ++i) sum += std::exp(double(l[i]) - double(mx));
            *job.dest = float(double(l[job.target]) - double(mx) - std::log(sum));
        });
    }
}

// ---- sentence-transformers Dense --------------------------------------------------------------

dense_layer::dense_layer(const model::st_dense& spec)
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

void dense_layer::apply(const float* in, std::size_t n, float* out) const {
    for (std::size_t r = 0; r < n; ++r) {
        const float* x = in + r * std::size_t(in_);
        float* y = out + r * std::size_t(out_);
        for (std::int64_t o = 0; o < out_; ++o) {
            const float* wr = w_.data() + o * in_;
            double s = 0;
            for (std::int64_t i = 0; i < in_; ++i) s += double(wr[i]) * double(x[i]);
            float v = float(s) + (b_.empty() ? 0.0f : b_[std::size_t(o)]);
            if (act_ == model::dense_activation::tanh) v = std::tanh(v);
            y[o] = v;
        }
    }
}

}  // namespace engine
POLYGLOT_END_NAMESPACE
