// SPDX-License-Identifier: Apache-2.0
#include "common/runtime/reference_device.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <polyglot/core/error.hpp>
#include <stdexcept>

#include "common/runtime/weights.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {

namespace {

using vec = std::vector<double>;

/// A projection y = W x (+ b), W row-major [out, in].
struct dense {
    std::size_t out = 0, in = 0;
    vec w, b;
    /// y[r] for the rows of x (rows × in) into y (rows × out).
    void apply(const vec& x, std::size_t rows, vec& y) const {
        y.assign(rows * out, 0.0);
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t o = 0; o < out; ++o) {
                const double* wr = w.data() + o * in;
                const double* xr = x.data() + r * in;
                double s = b.empty() ? 0.0 : b[o];
                for (std::size_t i = 0; i < in; ++i) s += wr[i] * xr[i];
                y[r * out + o] = s;
            }
    }
};

vec widen(const model::tensor_view& t) {
    std::vector<float> f(std::size_t(t.numel()));
    model::to_float(t, f.data());
    return vec(f.begin(), f.end());
}

/// RMSNorm of n values in place: v / sqrt(mean(v²) + eps) * w.
void rms_norm(double* v, std::size_t n, const vec& w, double eps) {
    double ss = 0;
    for (std::size_t i = 0; i < n; ++i) ss += v[i] * v[i];
    const double inv = 1.0 / std::sqrt(ss / double(n) + eps);
    for (std::size_t i = 0; i < n; ++i) v[i] = v[i] * inv * w[i];
}

double activation(model::activation a, double x) {
    switch (a) {
        case model::activation::silu:
            return x / (1.0 + std::exp(-x));
        case model::activation::gelu_tanh:
            return 0.5 * x *
                   (1.0 +
                    std::tanh(std::sqrt(2.0 / 3.141592653589793) * (x + 0.044715 * x * x * x)));
        case model::activation::gelu_erf:
            return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    }
    return x;
}

}  // namespace

struct reference_device::weights {
    model::model_config cfg;
    bool has_head = false;
    vec embed;  // [vocab, hidden]
    vec final_norm;
    struct layer {
        vec in_norm, post_attn_norm, pre_ff_norm, post_ff_norm, q_norm, k_norm;
        dense qkv, o, gate_up, down;
    };
    std::vector<layer> layers;
    dense head;  // empty w: tied to the embeddings
    std::vector<float> inv_freq_full, inv_freq_sliding;
    model::dtype storage = model::dtype::f64;

    /// @p v as the engine being modelled stores it.
    [[nodiscard]] double store(double v) const {
        if (storage == model::dtype::bf16)
            return double(model::bf16_to_float(model::float_to_bf16(float(v))));
        if (storage == model::dtype::f16)
            return double(model::half_to_float(model::float_to_half(float(v))));
        return v;
    }
    void store(vec& v) const {
        if (storage == model::dtype::bf16 || storage == model::dtype::f16)
            for (auto& x : v) x = store(x);
    }
};

reference_device::reference_device(std::unique_ptr<weights> w) : w_(std::move(w)) {}
reference_device::~reference_device() = default;

std::unique_ptr<reference_device> reference_device::load(const std::filesystem::path& dir) {
    return create(model::load_model_config(dir), model::weight_set::open(dir));
}

std::unique_ptr<reference_device> reference_device::create(const model::model_config& cfg,
                                                           const model::weight_set& ws,
                                                           model::dtype storage) {
    auto w = std::make_unique<weights>();
    w->cfg = cfg;
    w->storage = storage;
    const auto layout = model::text_model_layout(cfg, ws, false);
    auto norm = [&](const std::optional<model::norm_tensor>& n) {
        if (!n) return vec();
        const auto f = model::norm_weights(ws, *n);
        return vec(f.begin(), f.end());
    };
    auto stacked = [&](const model::linear_tensors& spec) {
        dense d;
        d.in = std::size_t(spec.in);
        d.out = std::size_t(spec.out());
        for (std::size_t i = 0; i < spec.names.size(); ++i) {
            const auto part = widen(ws.get(spec.names[i] + ".weight", {spec.outs[i], spec.in}));
            d.w.insert(d.w.end(), part.begin(), part.end());
            if (spec.bias) {
                const auto b = widen(ws.get(spec.names[i] + ".bias", {spec.outs[i]}));
                d.b.insert(d.b.end(), b.begin(), b.end());
            }
        }
        return d;
    };
    w->embed = widen(ws.get(layout.embed, {cfg.vocab_size, cfg.hidden_size}));
    w->final_norm = norm(layout.final_norm);
    for (const auto& spec : layout.layers)
        w->layers.push_back(model::make_layer<weights::layer>(spec, norm, stacked));
    if (layout.lm_head) w->head = stacked(*layout.lm_head);
    w->has_head = layout.has_head;
    w->inv_freq_full = model::rope_inv_freq(cfg.rope_full, cfg.head_dim);
    w->inv_freq_sliding = model::rope_inv_freq(cfg.rope_sliding, cfg.head_dim);
    return std::unique_ptr<reference_device>(new reference_device(std::move(w)));
}

const model::model_config& reference_device::config() const noexcept { return w_->cfg; }
bool reference_device::has_lm_head() const noexcept { return w_->has_head; }
std::string reference_device::describe_json() const {
    return "\"backend\": \"reference\", \"device\": \"cpu\", \"dtype\": \"" +
           std::string(w_->storage == model::dtype::bf16  ? "bf16"
                       : w_->storage == model::dtype::f16 ? "f16"
                                                          : "f64") +
           "\"";
}

double reference_device::sequence_output::log_sum_exp(std::size_t row) const {
    const std::size_t V = logits.size() / rows;
    const double* l = logits.data() + row * V;
    const double mx = *std::max_element(l, l + V);
    double s = 0;
    for (std::size_t i = 0; i < V; ++i) s += std::exp(l[i] - mx);
    return mx + std::log(s);
}

double reference_device::sequence_output::logprob(std::size_t row, std::size_t t) const {
    const std::size_t V = logits.size() / rows;
    return logits[row * V + t] - log_sum_exp(row);
}

// ---- forward ------------------------------------------------------------------------------------
//
// One sequence in the named steps every device shares (runtime/device.hpp): embed, then per
// layer attention_block and mlp_block, then final_norm, head (and pool, in forward).

namespace {

/// One sequence's forward pass; x holds the residual stream, row by row.
struct forward_pass {
    forward_pass(const reference_device::weights& w, std::span<const token_id> t) : W(w), ids(t) {}

    const reference_device::weights& W;
    std::span<const token_id> ids;
    const model::model_config& c = W.cfg;
    const std::size_t n = ids.size(), d = std::size_t(c.hidden_size);
    const std::size_t H = std::size_t(c.num_heads), KV = std::size_t(c.num_kv_heads);
    const std::size_t hd = std::size_t(c.head_dim), half = hd / 2, group = H / KV;
    const std::size_t V = std::size_t(c.vocab_size), inter = std::size_t(c.intermediate_size);
    const std::size_t ld = (H + 2 * KV) * hd;  // q/k/v floats per row
    const double eps = c.rms_norm_eps;
    vec x, h = vec(n * d), qkv, attn = vec(n * H * hd), tmp, gu, mlp = vec(n * inter);

    void embed();
    void attention_block(std::size_t li);
    void mlp_block(std::size_t li);
    void final_norm(reference_device::sequence_output& out) const;
    void head(reference_device::sequence_output& out) const;
    // the blocks' parts
    void qkv_rope(std::size_t li, bool sliding);
    void attend(std::size_t window);
    void norm_input(const vec& norm);
    void add_residual(const vec& post_norm);
};

/// h = RMSNorm(x) with @p norm's weights, as stored.
void forward_pass::norm_input(const vec& norm) {
    h = x;
    for (std::size_t r = 0; r < n; ++r) rms_norm(h.data() + r * d, d, norm, eps);
    W.store(h);
}

/// x += tmp (a block's output, as stored; Gemma 3: after @p post_norm).
void forward_pass::add_residual(const vec& post_norm) {
    W.store(tmp);
    if (c.sandwich_norms)
        for (std::size_t r = 0; r < n; ++r) rms_norm(tmp.data() + r * d, d, post_norm, eps);
    for (std::size_t i = 0; i < n * d; ++i) x[i] += tmp[i];
}

/// Embeddings (Gemma: times sqrt(hidden_size), a float32 constant in transformers).
void forward_pass::embed() {
    const double emb_scale = c.scale_embeddings ? double(float(std::sqrt(double(d)))) : 1.0;
    x.assign(n * d, 0.0);
    for (std::size_t r = 0; r < n; ++r) {
        if (ids[r] >= V) throw argument_error("reference: token id outside the vocabulary");
        for (std::size_t i = 0; i < d; ++i)
            x[r * d + i] = W.embed[std::size_t(ids[r]) * d + i] * emb_scale;
    }
}

/// Input norm, the q/k/v projection, q/k norms and rotate-half RoPE.
void forward_pass::qkv_rope(std::size_t li, bool sliding) {
    const auto& L = W.layers[li];
    const auto& inv_freq = sliding ? W.inv_freq_sliding : W.inv_freq_full;
    norm_input(L.in_norm);
    L.qkv.apply(h, n, qkv);
    W.store(qkv);
    for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t hh = 0; hh < H + KV; ++hh) {  // q heads, then k heads
            double* v = qkv.data() + r * ld + hh * hd;
            if (c.qk_norm) rms_norm(v, hd, hh < H ? L.q_norm : L.k_norm, eps);
            // Rotate-half RoPE; transformers forms the angle in float32.
            for (std::size_t i = 0; i < half; ++i) {
                const double a = double(inv_freq[i] * float(r));
                const double cs = std::cos(a), sn = std::sin(a);
                const double x1 = v[i], x2 = v[i + half];
                v[i] = x1 * cs - x2 * sn;
                v[i + half] = x2 * cs + x1 * sn;
            }
            for (std::size_t i = 0; i < hd; ++i) v[i] = W.store(v[i]);
        }
    }
}

/// Softmax over the keys each query may see (@p window > 0: sliding), into attn.
void forward_pass::attend(std::size_t window) {
    std::vector<double> p(n);
    for (std::size_t hh = 0; hh < H; ++hh) {
        const std::size_t g = hh / group;
        for (std::size_t i = 0; i < n; ++i) {
            const double* q = qkv.data() + i * ld + hh * hd;
            double mx = -std::numeric_limits<double>::infinity();
            for (std::size_t j = 0; j < n; ++j) {
                bool visible = c.bidirectional || j <= i;
                if (window > 0) {
                    const std::size_t dist = i > j ? i - j : j - i;
                    visible = visible && dist < window;
                }
                if (!visible) {
                    p[j] = -std::numeric_limits<double>::infinity();
                    continue;
                }
                const double* k = qkv.data() + j * ld + (H + g) * hd;
                double s = 0;
                for (std::size_t e = 0; e < hd; ++e) s += q[e] * k[e];
                s *= c.attn_scale;
                if (c.attn_logit_softcap)
                    s = *c.attn_logit_softcap * std::tanh(s / *c.attn_logit_softcap);
                p[j] = s;
                mx = std::max(mx, s);
            }
            // p = exp(s - max) ∈ (0, 1] (what a 16-bit engine stores), normalised last.
            double den = 0;
            for (std::size_t j = 0; j < n; ++j) {
                p[j] = std::isinf(p[j]) ? 0.0 : std::exp(p[j] - mx);
                den += p[j];
                p[j] = W.store(p[j]);
            }
            double* o = attn.data() + i * H * hd + hh * hd;
            for (std::size_t e = 0; e < hd; ++e) o[e] = 0;
            for (std::size_t j = 0; j < n; ++j) {
                if (p[j] == 0) continue;
                const double* v = qkv.data() + j * ld + (H + KV + g) * hd;
                for (std::size_t e = 0; e < hd; ++e) o[e] += p[j] * v[e];
            }
            for (std::size_t e = 0; e < hd; ++e) o[e] /= den;
        }
    }
}

/// Self-attention block: input norm, q/k/v with their norms and RoPE, attention, the output
/// projection (Gemma 3: post-attention norm) and the residual add.
void forward_pass::attention_block(std::size_t li) {
    const auto& L = W.layers[li];
    const bool sliding = c.layer_types[li] == model::attention_kind::sliding;
    qkv_rope(li, sliding);
    attend(sliding ? std::size_t(c.sliding_window) : 0);
    W.store(attn);
    L.o.apply(attn, n, tmp);
    add_residual(L.post_attn_norm);
}

/// MLP block: pre-MLP norm, the gated MLP (Gemma 3: post-MLP norm) and the residual add.
void forward_pass::mlp_block(std::size_t li) {
    const auto& L = W.layers[li];
    norm_input(L.pre_ff_norm);
    L.gate_up.apply(h, n, gu);
    W.store(gu);
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t i = 0; i < inter; ++i)
            mlp[r * inter + i] =
                activation(c.act, gu[r * 2 * inter + i]) * gu[r * 2 * inter + inter + i];
    W.store(mlp);
    L.down.apply(mlp, n, tmp);
    add_residual(L.post_ff_norm);
}

/// The final-normed hidden states.
void forward_pass::final_norm(reference_device::sequence_output& out) const {
    out.rows = n;
    out.hidden = x;
    for (std::size_t r = 0; r < n; ++r) rms_norm(out.hidden.data() + r * d, d, W.final_norm, eps);
    W.store(out.hidden);
}

/// The logits of every row (after final soft-capping), when the model has an output
/// projection.
void forward_pass::head(reference_device::sequence_output& out) const {
    if (!W.has_head) return;
    out.logits.assign(n * V, 0.0);
    const double* proj = W.head.w.empty() ? W.embed.data() : W.head.w.data();
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t t = 0; t < V; ++t) {
            double s = 0;
            for (std::size_t i = 0; i < d; ++i) s += proj[t * d + i] * out.hidden[r * d + i];
            if (c.final_logit_softcap)
                s = *c.final_logit_softcap * std::tanh(s / *c.final_logit_softcap);
            out.logits[r * V + t] = s;
        }
}

/// The pooled final hidden state of @p out into @p pooled (hidden_size floats).
void pool(const reference_device::sequence_output& out, model::pooling_mode mode, std::size_t d,
          float* pooled) {
    const std::size_t n = out.rows;
    for (std::size_t i = 0; i < d; ++i) {
        double v = 0;
        switch (mode) {
            case model::pooling_mode::mean:
                for (std::size_t r = 0; r < n; ++r) v += out.hidden[r * d + i];
                v /= double(n);
                break;
            case model::pooling_mode::last:
                v = out.hidden[(n - 1) * d + i];
                break;
            case model::pooling_mode::cls:
                v = out.hidden[i];
                break;
            case model::pooling_mode::max:
                v = out.hidden[i];
                for (std::size_t r = 1; r < n; ++r) v = std::max(v, out.hidden[r * d + i]);
                break;
        }
        pooled[i] = float(v);
    }
}

}  // namespace

reference_device::sequence_output reference_device::run(std::span<const token_id> ids) const {
    forward_pass f(*w_, ids);
    f.embed();
    for (std::size_t li = 0; li < w_->layers.size(); ++li) {
        f.attention_block(li);
        f.mlp_block(li);
    }
    sequence_output out;
    f.final_norm(out);
    f.head(out);
    return out;
}

void reference_device::forward(std::span<const forward_seq> batch) {
    const std::size_t d = std::size_t(w_->cfg.hidden_size), V = std::size_t(w_->cfg.vocab_size);
    for (const auto& s : batch) {
        if (!s.blocks.empty() || s.pos0 != 0)
            throw std::logic_error("reference device: no KV cache (whole sequences only)");
        if (s.pooled) std::fill_n(s.pooled, d, 0.0f);
        if (s.ids.empty()) continue;
        const auto out = run(s.ids);
        if (s.pooled) pool(out, s.pooling, d, s.pooled);
        for (const auto& o : s.outputs) {
            if (!w_->has_head)
                throw unsupported_error(w_->cfg.file.string() +
                                        ": the model has no output projection (lm_head)");
            const double* l = out.logits.data() + std::size_t(o.row) * V;
            if (o.target < 0) {
                if (o.logits)
                    for (std::size_t t = 0; t < V; ++t) o.logits[t] = float(l[t]);
                continue;
            }
            if (o.logprob) *o.logprob = float(out.logprob(o.row, std::size_t(o.target)));
            if (o.greedy) *o.greedy = l[o.target] >= *std::max_element(l, l + V) ? 1 : 0;
        }
    }
}

}  // namespace runtime
POLYGLOT_END_NAMESPACE
