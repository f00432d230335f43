// SPDX-License-Identifier: Apache-2.0
#include "common/runtime/weights.hpp"

#include <cmath>
#include <numbers>
#include <polyglot/core/error.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

text_model_tensors text_model_layout(const model_config& c, const weight_set& ws,
                                     bool need_lm_head) {
    text_model_tensors t;
    // Where the text model lives: "model." (ForCausalLM), "" (a bare text model, e.g. a
    // sentence-transformers Transformer module), or under a multimodal wrapper.
    bool found = false;
    for (const char* p :
         {"model.", "", "model.language_model.", "language_model.model.", "language_model."})
        if (ws.find(std::string(p) + "embed_tokens.weight")) {
            t.prefix = p;
            found = true;
            break;
        }
    if (!found)
        throw format_error(ws.origin().string() +
                           ": no embed_tokens.weight under a known prefix (model., "
                           "model.language_model., language_model.model.): not a supported "
                           "text model");
    const std::string& prefix = t.prefix;
    const auto d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    const bool p1 = c.norm_plus_one;
    t.embed = prefix + "embed_tokens.weight";
    t.final_norm = {prefix + "norm.weight", d, p1};
    for (std::int64_t i = 0; i < c.num_layers; ++i) {
        const std::string p = prefix + "layers." + std::to_string(i) + ".";
        layer_tensors L;
        L.in_norm = {p + "input_layernorm.weight", d, p1};
        if (c.sandwich_norms) {
            L.post_attn_norm = norm_tensor{p + "post_attention_layernorm.weight", d, true};
            L.pre_ff_norm = {p + "pre_feedforward_layernorm.weight", d, true};
            L.post_ff_norm = norm_tensor{p + "post_feedforward_layernorm.weight", d, true};
        } else {
            L.pre_ff_norm = {p + "post_attention_layernorm.weight", d, p1};
        }
        if (c.qk_norm) {
            L.q_norm = norm_tensor{p + "self_attn.q_norm.weight", hd, p1};
            L.k_norm = norm_tensor{p + "self_attn.k_norm.weight", hd, p1};
        }
        L.qkv = {{p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"},
                 {H * hd, KV * hd, KV * hd},
                 d,
                 c.qkv_bias};
        L.o = {{p + "self_attn.o_proj"}, {d}, H * hd, c.o_bias};
        L.gate_up = {{p + "mlp.gate_proj", p + "mlp.up_proj"},
                     {c.intermediate_size, c.intermediate_size},
                     d,
                     c.mlp_bias};
        L.down = {{p + "mlp.down_proj"}, {d}, c.intermediate_size, c.mlp_bias};
        t.layers.push_back(std::move(L));
    }
    // Output projection: lm_head next to the text model, else tied to the embeddings.
    std::string head;
    for (const char* cand : {"lm_head", "language_model.lm_head"})
        if (ws.find(std::string(cand) + ".weight")) {
            head = cand;
            break;
        }
    if (!head.empty() && !c.tie_word_embeddings) {
        t.lm_head = linear_tensors{{head}, {c.vocab_size}, d, false};
        t.has_head = true;
    } else if (c.tie_word_embeddings) {
        t.has_head = true;
    } else if (need_lm_head) {
        throw format_error(ws.origin().string() +
                           ": missing tensor 'lm_head.weight' (tie_word_embeddings is false)");
    }
    return t;
}

std::vector<float> norm_weights(const weight_set& ws, const norm_tensor& n) {
    const auto& t = ws.get(n.name, {n.size});
    std::vector<float> v(static_cast<std::size_t>(n.size));
    to_float(t, v.data());
    if (n.plus_one)
        for (auto& x : v) x = 1.0f + x;
    return v;
}

std::vector<float> rope_inv_freq(const rope_params& rp, std::int64_t dim) {
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

void rope_cos_sin(const std::vector<float>& inv_freq, std::int64_t pos, float* cos_out,
                  float* sin_out) {
    for (std::size_t i = 0; i < inv_freq.size(); ++i) {
        const float a = inv_freq[i] * float(pos);
        cos_out[i] = float(std::cos(double(a)));
        sin_out[i] = float(std::sin(double(a)));
    }
}

}  // namespace model
POLYGLOT_END_NAMESPACE
